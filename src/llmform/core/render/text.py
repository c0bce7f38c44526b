"""Text plans, laid out as Terraform lays them out.

Deletes come first, then everything else; each part is grouped under a header (factories, which
are global, first, then one header per workspace). Per resource: ``+`` create, ``~`` update in
place, ``-`` delete, ``-/+`` replace. Updates show only changed fields (``"old" -> "new"``) and
count the rest; lists of models are diffed by model name rather than dumped whole.

Every name, address, value and note is escaped where it is placed (``escape.text`` and
``escape.value``) and the lines are joined by ``escape.text_lines``: nothing a user or a server
wrote can add a line or reach the terminal as a control sequence.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ...console import paint, printable
from ..diff import CREATE, DELETE, REPLACE, UPDATE, Change, FieldChange
from ..plan import HOW_TO_TRUST, Plan, Summary
from ..resources import JSON, REPLACE_FIELDS, Resource
from . import escape as esc
from .policies import text_lines as policy_lines

SYMBOLS = {CREATE: "+", UPDATE: "~", DELETE: "-", REPLACE: "-/+"}
_STYLES = {"+": "green", "~": "yellow", "-": "red"}
_VERBS = {
    CREATE: "will be created",
    UPDATE: "will be updated in place",
    DELETE: "will be destroyed",
    REPLACE: "must be replaced",
}

SENSITIVE = "(sensitive value)"
SENSITIVE_CHANGED = "(sensitive value changed)"
NO_CHANGES = "No changes. The store matches the configuration."
KEYS_SKIPPED = "Key checks were skipped (--no-validate-keys)."
UNTRUSTED_HEADING = (
    "Endpoints not yet trusted (no request was sent to them; apply refuses until each is trusted):"
)
REFUSED = "Refused: protected resources would be destroyed, so this plan cannot be applied:"
KEYS_SKIPPED_NO_SECRETS = "Key checks were skipped (--no-secrets)."
NO_SECRETS = (
    "Secret values were not read (--no-secrets): references are compared, values are not. "
    "This plan cannot be applied."
)
NOT_COMPARED = "Secret values not compared ({why}):"
FACTORIES = "Factories"


@dataclass(frozen=True)
class Group:
    """The changes shown under one header: ``Factories`` or ``Workspace <name>``. Deletes are
    grouped apart, ahead of everything else, so a workspace may have two groups."""

    title: str
    changes: tuple[Change, ...]
    deletes: bool = False

    @property
    def header(self) -> str:
        title = esc.text(self.title)
        return f"{title} (to destroy):" if self.deletes else f"{title}:"


@dataclass(frozen=True)
class _Field:
    """One attribute line of a resource block; ``items`` turns it into a bracketed list."""

    symbol: str
    name: str
    value: str
    items: tuple[tuple[str, str], ...] | None = None
    hidden_items: int = 0
    note: str = ""


def groups(plan: Plan) -> list[Group]:
    """Deletes first, then the rest; within each part one group per header, factories first and
    workspaces by name. Within a group the plan's (apply) order is kept."""
    actionable = plan.actionable
    parts = (
        [c for c in actionable if c.action == DELETE],
        [c for c in actionable if c.action != DELETE],
    )
    out: list[Group] = []
    for deletes, part in zip((True, False), parts, strict=True):
        by_key: dict[tuple[int, str], list[Change]] = {}
        for change in part:
            key = (0, "") if change.workspace is None else (1, change.workspace)
            key = (2, "") if change.kind == "policy" else key
            by_key.setdefault(key, []).append(change)
        for key in sorted(by_key):
            title = (FACTORIES, f"Workspace {key[1]}", "Policies")[key[0]]
            out.append(Group(title, tuple(by_key[key]), deletes))
    return out


def render_text(
    plan: Plan, color: bool = False, verbose: bool = False, errors: Sequence[str] = ()
) -> str:
    """``verbose``: catalog factories in full rather than as one summary line each. ``errors``
    are not part of a text plan: the CLI prints them on stderr."""
    lines: list[str] = []
    if plan.scope:
        lines += [f"Scope: {scope_text(plan.scope)}; everything else is left alone.", ""]
    for group in groups(plan):
        lines += [paint(group.header, "bold", color), ""]
        lines += [*group_lines(group.changes, color, verbose), ""]
    lines += notes_lines(plan, color)
    lines += policy_lines(plan, paint, color)  # a section of its own (render/policies.py)
    lines.append(summary_line(plan.summary, color))
    return esc.text_lines(lines, color) + "\n"


def scope_text(scope: Sequence[str]) -> str:
    names = ", ".join(esc.text(name) for name in scope)
    return f"workspace{'' if len(scope) == 1 else 's'} {names}"


def summary_line(summary: Summary, color: bool = False) -> str:
    if summary.empty:
        return paint(NO_CHANGES, "bold", color)
    counts = f"{summary.add} to add, {summary.change} to change, {summary.destroy} to destroy."
    return f"{paint('Plan:', 'bold', color)} {counts}"


def notes_lines(plan: Plan, color: bool = False) -> list[str]:
    """Warnings, unmanaged resources, key checks and refused deletions of protected resources,
    each section followed by a blank line."""
    lines: list[str] = []
    for warning in plan.warnings:
        lines.append(f"{paint('Warning:', 'yellow', color)} {esc.text(warning)}")
    if plan.warnings:
        lines.append("")
    if plan.unmanaged:
        lines.append("Unmanaged (in the store, not created by llmform; left alone):")
        lines += [f"  {esc.text(address)}" for address in plan.unmanaged]
        lines.append("")
    if not plan.secrets_compared:
        lines += [paint(NO_SECRETS, "yellow", color), ""]
    if not plan.keys_checked:
        lines += [paint(keys_skipped(plan), "yellow", color), ""]
    if plan.not_compared:
        shown = {printable(a): printable(", ".join(s)) for a, s in plan.not_compared.items()}
        width = max(len(address) for address in shown)
        lines.append(not_compared_heading(plan))
        lines += [f"  {address.ljust(width)}  {slots}" for address, slots in shown.items()]
        lines.append("")
    checks = key_check_lines(plan, color)
    if checks:
        lines += [*checks, ""]
    refused = plan.refusals
    if refused:
        lines += [paint(REFUSED, "red", color), *(f"  {esc.text(r.text)}" for r in refused), ""]
    return lines


def keys_skipped(plan: Plan) -> str:
    return KEYS_SKIPPED if plan.secrets_compared else KEYS_SKIPPED_NO_SECRETS


def not_compared_heading(plan: Plan) -> str:
    """What precedes the configs whose secret values a plan did not read: with secret access
    these are disabled configs, whose values are read only when the plan needs them. A value
    not read keeps the fingerprint the store has for its reference (``unresolved.py``)."""
    why = "--no-secrets" if not plan.secrets_compared else "disabled configs, read only when needed"
    return NOT_COMPARED.format(why=why)


def key_check_lines(plan: Plan, color: bool = False) -> list[str]:
    """A heading with the counts, then one line per key: its config, slot and outcome."""
    rows = plan.key_rows
    if not rows:
        return []
    configs = len({row.address for row in rows})
    counts = f"{_count(len(rows), 'key')} of {_count(configs, 'config')}"
    verdicts = [
        paint(f"{n} {words}", style, color)
        for n, words, style in (
            (len(plan.failed_keys), "failed", "red"),
            (len(plan.untrusted_keys), "not checked", "yellow"),
        )
        if n
    ]
    heading = f"Key checks: {counts}, {', '.join(verdicts) or paint('all passed', 'green', color)}."
    width = max(len(esc.text(row.address)) for row in rows)
    lines = [heading]
    for row in rows:
        style = "green" if row.passed else "yellow" if row.untrusted else "red"
        outcome = paint(esc.text(row.outcome_text), style, color)
        lines.append(f"  {esc.text(row.address).ljust(width)}  {esc.text(row.slot)}: {outcome}")
    untrusted = untrusted_endpoints(plan)
    if untrusted:
        lines += ["", UNTRUSTED_HEADING]
        lines += [
            f"  {esc.text(url)}  ({', '.join(esc.text(a) for a in addresses)})"
            for url, addresses in untrusted.items()
        ]
        lines.append(f"{HOW_TO_TRUST}.")
    return lines


def untrusted_endpoints(plan: Plan) -> dict[str, list[str]]:
    """Each endpoint that is not trusted yet, with the configs that use it."""
    found: dict[str, list[str]] = {}
    for row in plan.untrusted_keys:
        addresses = found.setdefault(row.detail, [])
        if row.address not in addresses:
            addresses.append(row.address)
    return found


def group_lines(changes: Sequence[Change], color: bool, verbose: bool) -> list[str]:
    """The changes of one group, a blank line between blocks; catalog summary lines, one per
    factory, stand together."""
    lines: list[str] = []
    previous_summary = False
    for change in changes:
        block = change_lines(change, color, verbose)
        summary = len(block) == 1 and catalog_summary(change)
        if lines and not (summary and previous_summary):
            lines.append("")
        lines += block
        previous_summary = summary
    return lines


def catalog_summary(change: Change) -> bool:
    """A factory created unchanged from the built-in catalog: its models are the catalog's,
    reviewed with llmform's release, so the plan gives them one line (``-v`` shows them)."""
    return change.action == CREATE and change.after is not None and change.after.catalog


def _catalog_summary_line(change: Change, color: bool) -> str:
    assert change.after is not None
    models = change.after.attrs.get("models")
    count = _count(len(models), "model") if isinstance(models, list) else "its models"
    symbol = _symbol(SYMBOLS[change.action], color)
    return f"{symbol} {esc.text(change.address)} (built-in catalog, {count})"


def change_lines(change: Change, color: bool = False, verbose: bool = False) -> list[str]:
    """The comment line and the block of one change, without a trailing blank line; a catalog
    factory created unchanged is one summary line unless ``verbose``."""
    if catalog_summary(change) and not verbose:
        return [_catalog_summary_line(change, color)]
    notes = [change.reason] if change.action == REPLACE and change.reason else []
    if change.after is not None and change.after.catalog:
        notes.append("built-in catalog")
    address = esc.text(change.address)
    comment = f"  # {address} {_VERBS[change.action]}"
    if notes:
        comment += f" ({esc.text('; '.join(notes))})"
    symbol = _symbol(SYMBOLS[change.action], color)
    head = [paint(comment, "bold", color)]
    if change.action == DELETE:
        return [*head, f"{symbol} {address}"]
    if change.action == CREATE:
        assert change.after is not None
        fields = _create_fields(change.after)
    else:
        fields = [_update_field(change, f) for f in change.fields]
    hidden = change.unchanged if change.action != CREATE else 0
    if not fields and not hidden:
        return [*head, f"{symbol} {address} {{}}"]
    body = _block_lines(fields, color)
    if hidden:
        body.append(f"        # ({_count(hidden, 'unchanged attribute')} hidden)")
    return [*head, f"{symbol} {address} {{", *body, "    }"]


def _symbol(symbol: str, color: bool) -> str:
    """Right-aligned in three columns, as Terraform does, so that ``-/+`` fits."""
    painted = "/".join(paint(part, _STYLES[part], color) for part in symbol.split("/"))
    return " " * (3 - len(symbol)) + painted


def _block_lines(fields: list[_Field], color: bool) -> list[str]:
    width = max(len(esc.text(f.name)) for f in fields)
    lines: list[str] = []
    for f in fields:
        lead = f"    {_symbol(f.symbol, color)} {esc.text(f.name).ljust(width)} = "
        if f.items is None:
            lines.append(f"{lead}{f.value}{f.note}")
            continue
        lines.append(f"{lead}[{f.note}")
        lines += [f"        {_symbol(s, color)} {text}" for s, text in f.items]
        if f.hidden_items:
            lines.append(f"            # ({_count(f.hidden_items, 'unchanged model')} hidden)")
        lines.append("        ]")
    return lines


def _create_fields(resource: Resource) -> list[_Field]:
    """Every field with a value; empty ones (null, "", {}, []) carry nothing worth reading."""
    values: dict[str, str | list[Mapping[str, JSON]]] = {}
    for name, value in resource.attrs.items():
        if isinstance(value, Mapping):
            for key, sub in value.items():
                if not _empty(sub):
                    values[f"{name}.{key}"] = _scalar(sub)
        elif _is_model_list(value):
            values[name] = value
        elif not _empty(value):
            values[name] = _scalar(value)
    for slot in resource.secrets:
        values[f"secrets.{slot}.value"] = SENSITIVE
    fields: list[_Field] = []
    for name in sorted(values):
        value = values[name]
        if isinstance(value, str):
            fields.append(_Field("+", name, value))
        else:
            items = tuple(("+", _model_text(m)) for m in value)
            fields.append(_Field("+", name, "", items))
    return fields


def _update_field(change: Change, f: FieldChange) -> _Field:
    forced = change.action == REPLACE and f.name in REPLACE_FIELDS.get(change.kind, ())
    note = " # forces replacement" if forced else ""
    if f.sensitive:
        # before/after are fingerprints here: they decide the wording and are never shown
        if f.before is None:
            return _Field("+", f.name, SENSITIVE, note=note)
        if f.after is None:
            return _Field("-", f.name, f"{SENSITIVE} -> null", note=note)
        return _Field("~", f.name, SENSITIVE_CHANGED, note=note)
    if _model_list_change(f.before, f.after):
        items, hidden = _model_items(f.before or [], f.after or [])
        return _Field("~", f.name, "", items, hidden, note)
    if f.before is None:
        return _Field("+", f.name, _scalar(f.after), note=note)
    if f.after is None:
        return _Field("-", f.name, f"{_scalar(f.before)} -> null", note=note)
    return _Field("~", f.name, f"{_scalar(f.before)} -> {_scalar(f.after)}", note=note)


def _model_items(
    before: list[Mapping[str, JSON]], after: list[Mapping[str, JSON]]
) -> tuple[tuple[tuple[str, str], ...], int]:
    """Added, removed and changed models by name, in name order; unchanged ones only counted."""
    old = {m["name"]: m for m in before}
    new = {m["name"]: m for m in after}
    items: list[tuple[str, str]] = []
    hidden = 0
    for name in sorted(old.keys() | new.keys()):
        if name not in old:
            items.append(("+", _model_text(new[name])))
        elif name not in new:
            items.append(("-", _scalar(name)))
        elif old[name] == new[name]:
            hidden += 1
        else:
            diffs = [
                f"{esc.text(key)} = {_scalar(old[name].get(key))} -> {_scalar(new[name].get(key))}"
                for key in _model_keys(old[name].keys() | new[name].keys())
                if old[name].get(key) != new[name].get(key)
            ]
            items.append(("~", f"{_scalar(name)} {{{', '.join(diffs)}}}"))
    return tuple(items), hidden


def _model_text(model: Mapping[str, JSON]) -> str:
    details = ", ".join(
        f"{esc.text(key)} = {_scalar(model[key])}" for key in _model_keys(model.keys())
    )
    return f"{_scalar(model['name'])} {{{details}}}" if details else _scalar(model["name"])


def _model_keys(keys: Iterable[str]) -> list[str]:
    """A model's fields other than its name: its type first, then by name."""
    return sorted((k for k in keys if k != "name"), key=lambda k: (k != "type", k))


def _is_model_list(value: JSON) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(m, Mapping) and isinstance(m.get("name"), str) for m in value)
    )


def _model_list_change(before: JSON, after: JSON) -> bool:
    sides = [v for v in (before, after) if v is not None]
    return all(isinstance(v, list) for v in sides) and any(_is_model_list(v) for v in sides)


def _empty(value: JSON) -> bool:
    return value is None or value == "" or value == {} or value == []


def _scalar(data: JSON) -> str:
    return esc.value(data)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
