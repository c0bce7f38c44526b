"""Does a YAML document look like llmform's? The one decision every reader of YAML uses.

A folder llmform scans may hold other tools' YAML (Kubernetes manifests, docker-compose files,
CI workflows, Helm charts), which is passed over. But a document that is *almost* llmform's, an
apiVersion key or value with a typo (``apiversion``, ``api_version``, ``llmform/V1``), our
version under another key (``version: llmform/v1``), llmform's sections (or their singular,
``config:``) without any apiVersion, or an llmform document written as a list item, is a
mistake to report: passing it over silently would make llmform see a smaller desired state than
the user wrote, and plan deletions.

The decision reads composed nodes, never builds them, so a foreign document costs nothing and
whatever YAML features it uses (tags, anchors) cannot hurt.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .api import API_VERSION, API_VERSION_KEY

SECTIONS = frozenset({"factories", "workspaces", "configs"})
# What a section's name becomes with a slip of case or number (compared lower-cased).
_SECTION_SLIPS = SECTIONS | {"factory", "workspace", "config"}

# Normalised spellings close to these are typos of them (see _near).
_KEY_TARGET = "apiversion"
_KEY_LETTERS = frozenset(_KEY_TARGET)
_VALUE_TARGET = "llmform"
_NEAR_RATIO = 0.8
_NEAR_KEY_RATIO = 0.85  # "version" (docker-compose) is 0.82 from "apiversion"
_SEPARATORS = re.compile(r"[\s_.\-]+")


class Kind(Enum):
    LLMFORM = "llmform"  # apiVersion: llmform/v1, exactly
    NEAR_MISS = "near miss"  # looks like ours but is not quite: an error wherever it is
    FOREIGN = "foreign"  # another tool's document


@dataclass(frozen=True)
class Verdict:
    """Whose a document is (``Kind``), and for one that is almost llmform's, what is wrong."""

    kind: Kind
    # for NEAR_MISS (and FOREIGN with an apiVersion): the node to locate the problem at, the
    # diagnostic's path and the message
    node: Node | None = None
    path: str = ""
    message: str = ""


LLMFORM = Verdict(Kind.LLMFORM)
FOREIGN = Verdict(Kind.FOREIGN)


def unsupported_version(shown: str) -> str:
    return f"unsupported apiVersion {shown}; this llmform reads {API_VERSION!r}"


def identify(node: Node) -> Verdict:
    """Whose document ``node`` (a composed top-level node) is."""
    if isinstance(node, SequenceNode):
        return _listed(node)
    if not isinstance(node, MappingNode):
        return FOREIGN
    version: Node | None = None
    near_keys: list[ScalarNode] = []
    keys: set[str] = set()
    for key, value in node.value:
        if not isinstance(key, ScalarNode):
            continue
        keys.add(key.value)
        if key.value == API_VERSION_KEY:
            version = value
        elif _is_near_key(key.value):
            near_keys.append(key)
    shaped = _llmform_shaped(node, keys - {k.value for k in near_keys})
    if version is not None:
        if isinstance(version, ScalarNode) and version.value == API_VERSION:
            return LLMFORM
        near = (isinstance(version, ScalarNode) and _mentions_llmform(version.value)) or shaped
        kind = Kind.NEAR_MISS if near else Kind.FOREIGN
        return Verdict(kind, version, API_VERSION_KEY, unsupported_version(_version_text(version)))
    values = {id(key): value for key, value in node.value}
    for key in near_keys:
        value = values[id(key)]
        if shaped or (isinstance(value, ScalarNode) and _mentions_llmform(value.value)):
            return _wrong_key(key)
    sections = any(_is_section(name) for name in keys)
    for key, value in node.value:
        # our version under another key (version:, kind:): ours, whatever the key's spelling
        if (
            isinstance(key, ScalarNode)
            and isinstance(value, ScalarNode)
            and (
                value.value == API_VERSION
                or (sections and "/" in value.value and _mentions_llmform(value.value))
            )
        ):
            return _wrong_key(key)
    if shaped:
        found = ", ".join(repr(name) for name in sorted(k for k in keys if _is_section(k)))
        return Verdict(
            Kind.NEAR_MISS,
            node,
            "",
            f"looks like an llmform document ({found}) but has no apiVersion; add "
            f"'{API_VERSION_KEY}: {API_VERSION}' at the top",
        )
    return FOREIGN


def _wrong_key(key: ScalarNode) -> Verdict:
    return Verdict(
        Kind.NEAR_MISS,
        key,
        "",
        f"{key.value!r} is not {API_VERSION_KEY!r}: llmform reads only that exact key "
        f"(case-sensitive); write '{API_VERSION_KEY}: {API_VERSION}'",
    )


def _listed(node: SequenceNode) -> Verdict:
    """A list whose item is an llmform document (``- apiVersion: llmform/v1``): ours, written
    one indentation level too deep."""
    for item in node.value:
        if isinstance(item, MappingNode) and identify(item).kind is Kind.LLMFORM:
            return Verdict(
                Kind.NEAR_MISS,
                item,
                "",
                "an llmform document is a mapping, but this one is an item of a list: remove the "
                f"'- ' before '{API_VERSION_KEY}' and the indentation of the lines under it",
            )
    return FOREIGN


def _normal(text: str) -> str:
    return _SEPARATORS.sub("", text).lower()


def _close(text: str, target: str, ratio: float) -> bool:
    if text == target:
        return True
    import difflib  # start-up time: only for a key that is not exactly one of ours

    return difflib.SequenceMatcher(None, text, target).ratio() >= ratio


def _is_near_key(key: str) -> bool:
    """``apiversion``, ``ApiVersion``, ``api_version``, ``api-version``, ``apiVerison``..."""
    if not 7 <= len(key) <= 20:
        return False
    normal = _normal(key)
    # cheap first: a typo keeps all but a couple of the letters ("configs" keeps 4 of 7)
    letters = sum(char in _KEY_LETTERS for char in normal)
    return (
        7 <= len(normal) <= 14
        and letters >= len(normal) - 2
        and _close(normal, _KEY_TARGET, _NEAR_KEY_RATIO)
    )


def _mentions_llmform(value: str) -> bool:
    """``llmform/V1``, ``LLMform/v1``, ``llmform/v2``, ``llmform/1``, `` llmform/v1 ``,
    ``llmfrom/v1``: the part before the first '/' is (close to) "llmform"."""
    head = _normal(value.split("/", 1)[0])
    return 5 <= len(head) <= 12 and _close(head, _VALUE_TARGET, _NEAR_RATIO)


def _is_section(key: str) -> bool:
    """``configs``, or a slip of it: ``config``, ``Configs``."""
    return key.lower() in _SECTION_SLIPS


def _llmform_shaped(node: MappingNode, keys: set[str]) -> bool:
    """Only llmform's top-level keys (its sections, or their singular or capitalised forms),
    and its sections are lists of mappings (docker-compose's ``configs:`` is a mapping, a
    GitHub workflow has ``jobs:``, a manifest has ``kind:``); under a slip of a section's name
    (``config:``, more common in other tools' files), mappings that have a ``name``."""
    present = {key for key in keys if _is_section(key)}
    if not present or not keys <= present | {API_VERSION_KEY}:
        return False
    lists = 0
    for key, value in node.value:
        if not isinstance(key, ScalarNode) or not _is_section(key.value):
            continue
        if isinstance(value, SequenceNode):
            named = key.value in SECTIONS or (
                bool(value.value) and all(map(_has_name, value.value))
            )
            if not named or not all(isinstance(item, MappingNode) for item in value.value):
                return False
            lists += 1
        elif not (isinstance(value, ScalarNode) and value.tag.endswith(":null")):
            return False
    return lists > 0


def _has_name(node: Node) -> bool:
    return isinstance(node, MappingNode) and any(
        isinstance(key, ScalarNode) and key.value == "name" for key, _ in node.value
    )


def _version_text(node: Node) -> str:
    if isinstance(node, ScalarNode):
        return repr(node.value)
    return "(a list)" if isinstance(node, SequenceNode) else "(a mapping)"
