"""One entry of a section as the semantic checks see it, and how a check reports on it.

The shared base of the semantic checks (``semantic.py`` for the sections and references between
them, ``config_rules.py`` for a config's provider rules): an item's place and the fields the
schema rejected, the reporter that collects every problem with its file:line, and the checks
more than one section makes (a URL, a reference, a model's max_tokens).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ..errors import Diagnostic, Location, error, warning
from ..secrets.refs import RefSyntaxError, parse_ref
from .endpoints import check_url
from .loader import Document
from .model import Factory, Model, SecretRef
from .secret_shapes import format_path, reference_secret
from .secret_shapes import shown as quoted

TYPE_CHECKING = False  # not typing's: its import is 3 ms of every validate (test_cli_imports)
if TYPE_CHECKING:
    from typing import Any

Path = tuple[str | int, ...]
# The largest max_tokens: SQLite's INTEGER is a signed 64-bit number (the schema's maximum).
MAX_TOKENS = 2**63 - 1
# (file, (section, index, field)) of schema-rejected fields; field None: the whole item
Broken = set[tuple[str, tuple[str, int, str | None]]]


def is_integral(value: Any) -> bool:
    if isinstance(value, float):
        return value.is_integer()
    return isinstance(value, int) and not isinstance(value, bool)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    import difflib  # start-up time: for an error's hint only

    match = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


@dataclass
class Item:
    """One entry of a section. ``raw`` lacks the fields the schema rejected (``broken``); an
    item with broken fields is checked as far as it can be but never becomes a record."""

    document: Document
    path: Path
    raw: Any
    valid: bool
    broken: frozenset[str] = frozenset()

    def has(self, name: str) -> bool:
        return name in self.raw or name in self.broken

    def at(self, *steps: str | int) -> Location:
        return self.document.locate((*self.path, *steps))

    def dotted(self, *steps: str | int) -> str:
        return format_path((*self.path, *steps))


@dataclass
class Reporter:
    """Collects every problem of a run, each at the place in the file it concerns."""

    catalog: Mapping[str, Factory]
    diagnostics: list[Diagnostic] = field(default_factory=list)
    unusable_factories: set[str] = field(default_factory=set)

    def err(self, item: Item, steps: tuple[str | int, ...], message: str) -> None:
        self.diagnostics.append(error(item.at(*steps), item.dotted(*steps), message))

    def warn(self, item: Item, steps: tuple[str | int, ...], message: str) -> None:
        self.diagnostics.append(warning(item.at(*steps), item.dotted(*steps), message))

    def max_tokens(self, item: Item, steps: tuple[str | int, ...], raw: Mapping[str, Any]) -> bool:
        """Whether a model's max_tokens fits the store (the schema says so too; this holds for
        whatever reaches the state, a plan's records included)."""
        value = raw.get("max_tokens")
        if value is None or (type(value) is int and 0 <= value <= MAX_TOKENS):
            return True
        if is_integral(value) and 0 <= value <= MAX_TOKENS:  # 8192.0
            return True
        self.err(
            item,
            (*steps, "max_tokens"),
            f"must be a whole number from 0 to {MAX_TOKENS} (2^63 - 1, what the store holds)",
        )
        return False

    def url(self, item: Item, steps: tuple[str | int, ...], value: str) -> None:
        problem, insecure = check_url(value)
        if problem:
            self.err(item, steps, problem)
        elif insecure:
            self.warn(
                item,
                steps,
                f"plain http to {quoted(insecure)} sends keys unencrypted; use https "
                "(http is fine only for loopback hosts)",
            )

    def ref(
        self, item: Item, steps: tuple[str | int, ...], raw: Mapping[str, Any]
    ) -> SecretRef | None:
        pasted = reference_secret(raw)
        if pasted is not None:  # before parse_ref, whose messages may quote parts of it
            self.err(item, steps, pasted)
            return None
        try:
            return parse_ref(raw)
        except RefSyntaxError as exc:
            self.err(item, steps, str(exc))
            return None


def model_from_raw(raw: Mapping[str, Any], *, custom: bool) -> Model:
    kind = raw["type"]
    types = (kind,) if isinstance(kind, str) else tuple(kind)
    max_tokens = raw.get("max_tokens")
    return Model(
        name=raw["name"],
        types=types,
        max_tokens=None if max_tokens is None else int(max_tokens),  # YAML's 8192.0 is 8192
        tools=raw.get("tools", False),
        custom=custom,
    )
