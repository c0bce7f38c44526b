"""The general way a file's text is loaded: libyaml (``CSafeLoader``'s composer, where it is
built; PyYAML's pure-Python one elsewhere) composes nodes, ``identify`` decides whose each
document is, and ``yamltree.Constructor`` builds llmform's, with every problem found and
worded. ``loader.load_text`` comes here for whatever ``simpleyaml`` declines, so that a simple
file is loaded without importing PyYAML.
"""

from __future__ import annotations

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ..errors import Diagnostic, Location, error
from .api import API_VERSION
from .documents import Document, LoadResult
from .identify import Kind, identify
from .marked import TOO_DEEP
from .secret_shapes import source_may_hold_key
from .yamltext import bom_error, remembering_tags, too_deep, yaml_error
from .yamltree import LONE_SURROGATE, Constructor, Unbuildable, lone_surrogate

TYPE_CHECKING = False  # not typing's: see yamltree
if TYPE_CHECKING:
    from typing import Any

_LIBYAML: Any = remembering_tags(yaml.CSafeLoader) if hasattr(yaml, "CSafeLoader") else None
_Loader: Any = _LIBYAML or yaml.SafeLoader  # libyaml where it is built
_NULL_TAG = "tag:yaml.org,2002:null"


def _not_llmform(node: Node) -> str:
    fix = f"'apiVersion: {API_VERSION}'"
    if _is_saved_plan(node):
        return (
            "a saved plan (llmform plan -o), not configuration: apply it alone, as in "
            "llmform apply FILE, or read it with llmform show FILE"
        )
    if isinstance(node, MappingNode):
        return f"not an llmform document: add {fix} at the top"
    kind = "a list" if isinstance(node, SequenceNode) else "a single value"
    return (
        f"not an llmform document: its top level is {kind}; write a mapping that starts with {fix}"
    )


def _is_saved_plan(node: Node) -> bool:
    """A plan file (JSON, so YAML too) named where configuration goes."""
    if not isinstance(node, MappingNode) or not node.value:
        return False
    key, value = node.value[0]
    return (
        isinstance(key, ScalarNode)
        and key.value == "format"
        and isinstance(value, ScalarNode)
        and value.value.startswith("llmform-plan/")
    )


def _is_empty(node: Node) -> bool:
    """An empty document: what a trailing '---' (or '--- ~', or '...') leaves."""
    return isinstance(node, ScalarNode) and node.tag == _NULL_TAG


def _at(file: str, node: Node) -> Location:
    return Location(file, node.start_mark.line + 1, node.start_mark.column + 1)


def load_composed(
    file: str, text: str, *, explicit: bool, unparsable_is_foreign: bool
) -> LoadResult:
    """``loader.load_text`` of ``text``, composed."""
    documents: list[Document] = []
    diagnostics: list[Diagnostic] = []
    bom = text.find("\ufeff")  # one at the very start was removed when decoding
    deep = too_deep(text, _Loader)
    if deep is not None:
        if unparsable_is_foreign:
            return LoadResult([], [])
        return LoadResult([], [error(Location(file, *deep), "", TOO_DEEP)])
    try:
        nodes = list(yaml.compose_all(text, Loader=_Loader))
    except yaml.YAMLError as exc:
        if unparsable_is_foreign:
            return LoadResult([], [])
        if bom >= 0:  # what the parser says about it ("did not find expected key") misleads
            return LoadResult([], [bom_error(file, text, bom)])
        deep = too_deep(text, _Loader, failed=True)
        if deep is not None:  # too deep before the syntax error: said as for valid YAML
            return LoadResult([], [error(Location(file, *deep), "", TOO_DEEP)])
        return LoadResult([], [yaml_error(file, text, exc)])
    except RecursionError:  # the pure-Python composer, where libyaml is not built
        if unparsable_is_foreign:
            return LoadResult([], [])
        deep = too_deep(text, _Loader, failed=True)
        at = Location(file) if deep is None else Location(file, *deep)
        return LoadResult([], [error(at, "", TOO_DEEP)])
    found_any = False
    keyless = not source_may_hold_key(text)
    lines: list[str] = []
    verdicts = []
    for node in nodes:
        if node is None or _is_empty(node):
            continue
        found_any = True
        verdicts.append((node, identify(node)))
    if bom >= 0 and any(verdict.kind is not Kind.FOREIGN for _, verdict in verdicts):
        return LoadResult([], [bom_error(file, text, bom)])
    for node, verdict in verdicts:
        if verdict.kind is Kind.FOREIGN:
            # passed over unbuilt when scanned, whatever YAML features it uses
            if explicit:
                where = verdict.node if verdict.node is not None else node
                message = verdict.message or _not_llmform(node)
                diagnostics.append(error(_at(file, where), verdict.path, message))
            continue
        if verdict.kind is Kind.NEAR_MISS:
            assert verdict.node is not None
            diagnostics.append(error(_at(file, verdict.node), verdict.path, verdict.message))
            continue
        if _Loader is not _LIBYAML and (surrogate := lone_surrogate(node)) is not None:
            diagnostics.append(error(_at(file, surrogate), "", LONE_SURROGATE))
            continue
        constructor = Constructor(file)
        try:
            data = constructor.build(node)
        except Unbuildable as problem:
            where, message = problem.args
            diagnostics.append(error(where, "", message))
            continue
        diagnostics.extend(constructor.finish(data))
        sources = {}
        if "policies" in data:  # only then is the text split into lines
            from .scalar_source import scalar_sources  # start-up time: for policies only

            lines = lines or text.split("\n")
            sources = scalar_sources(file, lines, node, "policies", "rule")
        documents.append(Document(file, data, sources, keyless=keyless))
    if not found_any and explicit:
        diagnostics.append(
            error(Location(file), "", f"file is empty; start it with 'apiVersion: {API_VERSION}'")
        )
    return LoadResult(documents, diagnostics)


# Whether a file that may not be ours is: a YAML error in it is reported only when it is.
# Case-insensitive, so that a file with a misspelt apiVersion such as "LLMform/v1" is reported.
