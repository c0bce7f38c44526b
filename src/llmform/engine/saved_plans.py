"""Saved plans on disk: written with a MAC, read back with every field checked.

``llmform plan -o FILE`` writes ``plan_to_json``'s object plus ``mac``: HMAC-SHA256, under a key
derived from the store's fingerprint key, over the canonical JSON of everything else in the
file. A field added to the plan is covered without anyone remembering to: the MAC is over the
serialisation, not a list of fields. The key never leaves the store, so only a run that can
read the store can make a plan that store accepts, and a plan made for one store does not
verify against another.

Reading is in two steps, so that nothing in the file is acted on before it is authenticated:
``read_plan`` parses the file within bounds (size, depth, finite numbers, no duplicate keys),
refuses another format version and checks every field's type, naming the field; then
``SavedPlan.verify`` checks the MAC against the store's key and that every change follows from
its own before and after (what a reviewer sees is what apply does).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import stat
from dataclasses import dataclass
from itertools import zip_longest
from typing import Any

from ..catalog import builtin_factories
from ..console import printable
from ..core.diff import NOOP, Change, diff
from ..core.drift import drift_of
from ..core.plan import (
    PLAN_FORMAT,
    Plan,
    PlanFileError,
    change_to_json,
    plan_from_json,
    plan_to_json,
)
from ..core.resources import factory_resource
from ..core.typed_json import ShapeError, bounded, object_with
from ..files import read_at_most, write_file
from ..targets.guard import same_resource
from ..version import __version__

MAC_CONTEXT = b"llmform saved-plan MAC v1"
MAX_PLAN_BYTES = 64 * 1024 * 1024  # a plan holds its changes: 10,000 creates are about 8 MB
MAX_PLAN_DEPTH = 32  # what llmform writes nests 9 levels deep
_MAC = re.compile(r"[0-9a-f]{64}")
_FORMAT = re.compile(r"llmform-plan/(0|[1-9][0-9]{0,5})")
# How every plan file llmform wrote begins (plan_to_json puts the format first): how apply
# tells a saved plan named *.yaml from a configuration file
_PLAN_START = re.compile(rb'\s*\{\s*"format"\s*:\s*"llmform-plan/')
_YAML_SUFFIXES = (".yaml", ".yml")
_AGAIN = "plan again with this llmform: llmform plan -o FILE"


class TamperedPlanError(PlanFileError):
    """A saved plan that does not verify: modified after plan wrote it, or for another store."""


def plan_mac_key(fingerprint_key: bytes) -> bytes:
    """The key of saved plans' MACs, derived from the store's fingerprint key, so that the
    store needs no second secret and a MAC never doubles as a fingerprint."""
    return hmac.new(fingerprint_key, MAC_CONTEXT, hashlib.sha256).digest()


def _canonical(data: Any) -> bytes:
    return json.dumps(
        data, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    ).encode("ascii")


def mac_of(key: bytes, data: Any) -> str:
    """The MAC of a plan file's ``data`` (everything but the MAC) under ``key``."""
    return hmac.new(key, _canonical(data), hashlib.sha256).hexdigest()


def plan_text(plan: Plan, mac_key: bytes | None) -> str:
    """The saved form of ``plan``: its JSON with the MAC over all of it (no MAC without a key:
    such a file can be read, never applied)."""
    data = plan_to_json(plan)
    signed = data if mac_key is None else {**data, "mac": mac_of(mac_key, data)}
    return json.dumps(signed, indent=1, ensure_ascii=False, allow_nan=False) + "\n"


def save_plan(plan: Plan, path: str, mac_key: bytes | None) -> None:
    """Write ``plan`` to ``path``, with its MAC under ``mac_key`` (``plan_mac_key``)."""
    write_file(path, plan_text(plan, mac_key), private=True)  # 0600, atomic, never via a link


@dataclass(frozen=True)
class SavedPlan:
    """A plan file read and type-checked, not yet authenticated."""

    path: str  # as shown in messages (escaped)
    plan: Plan
    signed: dict[str, Any]  # everything in the file but the MAC, as parsed
    mac: str | None  # None: missing or not a MAC at all

    def verify(self, mac_key: bytes, store_url: str) -> Plan:
        """The plan, if its MAC is right under ``mac_key`` (the key of the store at
        ``store_url``) and its changes are what llmform computes; else TamperedPlanError."""
        expected = mac_of(mac_key, self.signed)
        if self.mac is None or not hmac.compare_digest(self.mac, expected):
            why = (
                "it has no valid MAC"
                if self.mac is None
                else f"its MAC does not verify with the key of {printable(store_url)}"
            )
            fix = "Plan again against this store: llmform plan -o FILE"
            if store_url and self.plan.store_url != store_url:  # unverified: a hint, no more
                why += f"; the file names the store {printable(self.plan.store_url)}"
                fix = (
                    "If that is its store, pass it with --store; else plan again against this "
                    "store: llmform plan -o FILE"
                )
            raise TamperedPlanError(
                f"{self.path}: refused: the file was modified after 'llmform plan' wrote it, "
                f"or was made for another store ({why}); nothing was done. {fix}"
            )
        return self.unverified()

    def unverified(self) -> Plan:
        """The plan without its MAC checked (no store to check it against), still refused when
        a change does not follow from its own before and after."""
        _check_consistent(self.path, self.plan)
        _check_drift(self.path, self.plan)
        _check_catalog(self.path, self.plan)
        return self.plan


def is_plan_file(path: str) -> bool:
    """Whether ``apply PATH`` means the saved plan at ``path``: a regular file that is not
    named as YAML, or that is named so but begins as a plan file does (``plan -o prod.yaml``
    writes one, and the command it prints must apply it)."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return False
        if not path.lower().endswith(_YAML_SUFFIXES):
            return True
        with open(path, "rb") as handle:
            return _PLAN_START.match(handle.read(256)) is not None
    except OSError:
        return False


def load_plan(path: str, mac_key: bytes | None = None, store_url: str = "") -> Plan:
    """``read_plan`` then ``verify`` (``unverified`` without a key: for reading a plan, never
    for applying one)."""
    saved = read_plan(path)
    return saved.unverified() if mac_key is None else saved.verify(mac_key, store_url)


def read_plan(path: str) -> SavedPlan:
    """Parse and type-check the plan file at ``path``; PlanFileError says what is wrong."""
    name = printable(path)
    data = _parse(name, _read(path, name))
    _check_format(name, data)
    mac = data.pop("mac", None)
    try:
        plan = object_with(plan_from_json)(data, "")
    except ShapeError as exc:
        raise PlanFileError(
            f"{name}: the plan file is damaged: {printable(str(exc))}; {_AGAIN}"
        ) from None
    valid_mac = mac if isinstance(mac, str) and _MAC.fullmatch(mac) else None
    return SavedPlan(name, plan, data, valid_mac)


def _read(path: str, name: str) -> bytes:
    try:
        raw = read_at_most(path, MAX_PLAN_BYTES)
    except OSError as exc:
        raise PlanFileError(f"{name}: cannot read the plan file: {exc.strerror}") from None
    if raw is None:
        raise PlanFileError(
            f"{name}: not an llmform plan file: larger than {MAX_PLAN_BYTES // 2**20} MiB"
        )
    return raw


class _Duplicate(Exception):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        raise _Duplicate
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _parse(name: str, raw: bytes) -> dict[str, Any]:
    problem: str | None
    try:
        data = json.loads(
            raw.decode("utf-8"), object_pairs_hook=_no_duplicates, parse_constant=_no_constant
        )
        problem = bounded(data, MAX_PLAN_DEPTH)
    except UnicodeDecodeError as exc:
        problem = f"not UTF-8 text (byte {exc.start})"
    except json.JSONDecodeError as exc:
        problem = f"not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
    except _Duplicate:
        problem = "an object has the same field twice"
    except RecursionError:
        problem = f"nested more than {MAX_PLAN_DEPTH} levels deep"
    except ValueError:  # a number too long to convert, NaN or Infinity
        problem = "a number is not valid"
    if problem is None and not isinstance(data, dict):
        problem = "not a JSON object"
    if problem is not None:
        raise PlanFileError(
            f"{name}: not an llmform plan file: {problem}; create one with llmform plan -o FILE"
        )
    return data  # type: ignore[no-any-return]


def _check_format(name: str, data: dict[str, Any]) -> None:
    found = data.get("format")
    if found == PLAN_FORMAT:
        return
    match = _FORMAT.fullmatch(found) if isinstance(found, str) else None
    if match is None:
        raise PlanFileError(
            f"{name}: not an llmform plan file (it has no format 'llmform-plan/N'); "
            "create one with llmform plan -o FILE"
        )
    ours = int(PLAN_FORMAT.rpartition("/")[2])
    by = "an older" if int(match[1]) < ours else "a newer"
    raise PlanFileError(
        f"{name}: the plan file has format {found!r} (made by {by} llmform), but this llmform "
        f"({__version__}) reads only {PLAN_FORMAT!r}; {_AGAIN}"
    )


def _check_consistent(name: str, plan: Plan) -> None:
    """Every change is what ``diff`` makes of its before and after, in diff's order: an action,
    field list or address edited to show one thing and do another is refused."""
    desired = {c.after.address: c.after for c in plan.changes if c.after is not None}
    current = {c.before.address: c.before for c in plan.changes if c.before is not None}
    derived = [c for c in diff(desired, current) if c.action != NOOP]  # a plan holds none
    for index, (change, expected) in enumerate(zip_longest(plan.changes, derived)):
        if change is None or expected is None or _same(change) != _same(expected):
            named = f" ({printable(change.address)})" if change is not None else ""
            raise TamperedPlanError(
                f"{name}: refused: changes[{index}]{named} is not what llmform computes from "
                "the changes' before and after (its action, fields, address or order differ), "
                f"so the file was modified after 'llmform plan' wrote it; {_AGAIN}"
            )


def _check_drift(name: str, plan: Plan) -> None:
    """Every drift entry is what ``drift_of`` makes of its own before (llmform's record) and
    after (the target's), so that ``show`` of an unverified file says what the file holds."""
    for index, entry in enumerate(plan.drift or ()):
        recorded = {entry.before.address: entry.before} if entry.before is not None else {}
        now = {entry.after.address: entry.after} if entry.after is not None else {}
        derived = drift_of(recorded, now)
        if len(derived) != 1 or _same(derived[0]) != _same(entry):
            raise TamperedPlanError(
                f"{name}: refused: drift[{index}] ({printable(entry.address)}) is not what "
                "llmform computes from its before and after, so the file was modified after "
                f"'llmform plan' wrote it; {_AGAIN}"
            )


def _check_catalog(name: str, plan: Plan) -> None:
    """A resource marked as taken from the built-in catalog is exactly the catalog's factory:
    the renderers show such a factory in one line (``built-in catalog, 28 models``), which must
    not hide an ``api_base`` or a model list of the file's own."""
    marked = [
        (index, resource)
        for index, change in enumerate(plan.changes)
        for resource in (change.before, change.after)
        if resource is not None and resource.catalog
    ]
    if not marked:
        return
    catalog = builtin_factories()
    for index, resource in marked:
        factory = catalog.get(resource.name) if resource.kind == "factory" else None
        if factory is None or not same_resource(factory_resource(factory), resource):
            raise TamperedPlanError(
                f"{name}: refused: changes[{index}] ({printable(resource.address)}) is marked "
                "as the built-in catalog's factory but is not what this llmform's catalog "
                "holds, so the file was modified after 'llmform plan' wrote it, or by another "
                f"llmform version; {_AGAIN}"
            )


def _same(change: Change) -> bytes:
    return _canonical(change_to_json(change))
