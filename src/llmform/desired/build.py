"""Loaded documents to a DesiredState, with every problem found on the way: the JSON Schema of
each document, the semantic checks across them (references, duplicates, provider rules) and keys
pasted into plain text. No I/O: the documents are already loaded; the catalog is a parameter (the
built-in one is itself checked through here).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

from ..errors import Diagnostic, Severity
from .items import Broken
from .loader import Document
from .model import DesiredState, Factory
from .policies import build_policies, judged
from .schema import check_document
from .semantic import build_state
from .text_secrets import keys_in_text


def check_documents(
    documents: list[Document], catalog: Mapping[str, Factory], *, judge: bool = False
) -> tuple[DesiredState, list[Diagnostic]]:
    """Schema and semantic checks of loaded documents; with ``judge``, and the policies'
    verdicts on the state when it has no error (``validate``; plan and apply enforce them
    themselves)."""
    diagnostics: list[Diagnostic] = []
    broken: Broken = set()
    for document in documents:
        if document.checked:  # passed with no problem when parsed (parsed_cache)
            continue
        problems, rejected = check_document(document)
        diagnostics.extend(problems)
        broken.update((document.file, item) for item in rejected)
    state, semantic = build_state(documents, broken, catalog)
    rules, in_policies = build_policies(documents, broken)
    state = replace(state, policies={name: rule.policy for name, rule in rules.items()})
    semantic += in_policies
    reported = {d.location for d in diagnostics + semantic if d.severity is Severity.ERROR}
    unchecked = [document for document in documents if not document.checked]
    pasted = [d for document in unchecked for d in keys_in_text(document, reported)]
    found = diagnostics + semantic + pasted
    if judge and rules and not any(d.severity is Severity.ERROR for d in found):
        found += judged(state, rules)[1]
    return state, found


def checker(
    catalog: Mapping[str, Factory],
) -> Callable[[list[Document]], list[Diagnostic]]:
    return lambda documents: check_documents(documents, catalog, judge=True)[1]
