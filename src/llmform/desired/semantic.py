"""Documents -> DesiredState: the sections, duplicates and references between them (a config's
factory and workspace, a workspace's defaults), every problem collected; a config's provider
rules are in ``config_rules.py``, what they share in ``items.py``.

Runs after the schema check and trusts its shapes only for items the schema passed; an item with
schema errors is registered by name (so that others referring to it are not reported twice) and
otherwise skipped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ..errors import Diagnostic
from .config_rules import ConfigRules
from .items import Broken, Item, did_you_mean, model_from_raw
from .loader import Document
from .model import Config, DesiredState, Factory, Model, Workspace, frozen_map
from .secret_shapes import shown as quoted

TYPE_CHECKING = False  # not typing's: its import is 3 ms of every validate (test_cli_imports)
if TYPE_CHECKING:
    from typing import Any


class _Builder(ConfigRules):
    """The sections' checks on top of a config's (``ConfigRules``), in one collector."""

    def unique(self, kind: str, items: list[tuple[Any, Item]]) -> dict[Any, Item]:
        """First item per key; a duplicate is reported at each of its places, once."""
        groups: dict[Any, list[Item]] = {}
        for key, item in items:
            groups.setdefault(key, []).append(item)
        for key, group in groups.items():
            if len(group) == 1:
                continue
            shown = "/".join(key) if isinstance(key, tuple) else key
            fix = "rename or remove one of them" if len(group) == 2 else "keep only one"
            for item in group:
                others = ", ".join(str(other.at("name")) for other in group if other is not item)
                self.err(
                    item, ("name",), f"duplicate {kind} {quoted(shown)} (also at {others}); {fix}"
                )
        return {key: group[0] for key, group in groups.items()}

    def factory(self, item: Item, *, builtin: bool = False) -> Factory:
        raw = item.raw
        models = self.models(item, raw.get("models", []), custom=False)
        api_base = raw.get("api_base")
        if api_base is not None:
            self.url(item, ("api_base",), api_base)
        return Factory(
            name=raw["name"],
            type=raw["type"],
            api_base=api_base,
            tags=tuple(raw.get("tags", ())),
            models=models,
            builtin=builtin,
            location=item.at(),
        )

    def models(self, item: Item, raw_models: list[Any], *, custom: bool) -> tuple[Model, ...]:
        seen: set[str] = set()
        models: list[Model] = []
        for index, raw in enumerate(raw_models):
            name = raw["name"]
            if name in seen:
                self.err(
                    item, ("models", index), f"model {quoted(name)} is listed twice; remove one"
                )
                continue
            seen.add(name)
            if self.max_tokens(item, ("models", index), raw):
                models.append(model_from_raw(raw, custom=custom))
        return tuple(models)

    def workspace(self, item: Item) -> Workspace:
        raw = item.raw
        return Workspace(
            name=raw["name"],
            description=raw.get("description", ""),
            labels=frozen_map(raw.get("labels")),
            defaults=frozen_map(raw.get("defaults")),
            protect=raw.get("protect", False),
            location=item.at(),
        )

    def defaults(
        self, item: Item, workspace: Workspace, configs: Mapping[tuple[str, str], Config]
    ) -> None:
        for model_type, target in workspace.defaults.items():
            config_name, _, model_name = target.partition("/")
            steps = ("defaults", model_type)
            config = configs.get((workspace.name, config_name))
            if config is None:
                names = [name for ws, name in configs if ws == workspace.name]
                self.err(
                    item,
                    steps,
                    f"unknown config {quoted(config_name)} in workspace {workspace.name!r}"
                    f"{did_you_mean(config_name, names)}; a default is 'config/model' naming a "
                    "config of the same workspace",
                )
                continue
            model = next((m for m in config.models if m.name == model_name), None)
            if model is None:
                hint = did_you_mean(model_name, (m.name for m in config.models))
                self.err(
                    item,
                    steps,
                    f"model {quoted(model_name)} is not enabled in config {config_name!r}{hint}; "
                    "add it to the config's models",
                )
            elif model_type not in model.types:
                fitting = ", ".join(m.name for m in config.models if model_type in m.types)
                kind = f"a model of type {model_type}"
                fix = (
                    f"pick {kind} from config {config_name!r}: {fitting}"
                    if fitting
                    else f"enable {kind} in config {config_name!r} and name it"
                )
                self.err(
                    item,
                    steps,
                    f"model {model_name!r} is {'/'.join(model.types)}, not {model_type}; {fix}",
                )


def _items(documents: Iterable[Document], section: str, broken: Broken) -> list[Item]:
    # the entries of this section with a field or the whole rejected, per file: nearly always
    # none, and then an item's fields are its mapping as loaded (never changed by the checks)
    rejected: dict[str, set[int]] = {}
    for file, (where, index, _) in broken:
        if where == section:
            rejected.setdefault(file, set()).add(index)
    items = []
    for document in documents:
        entries = document.data.get(section)
        if not isinstance(entries, list):
            continue
        rejected_here = rejected.get(document.file, ())
        for index, raw in enumerate(entries):
            if index not in rejected_here and isinstance(raw, dict):
                items.append(Item(document, (section, index), raw, True))
                continue
            if (document.file, (section, index, None)) in broken or not isinstance(raw, dict):
                items.append(Item(document, (section, index), raw, valid=False))
                continue
            fields = frozenset(
                name for name in raw if (document.file, (section, index, name)) in broken
            )
            kept = {name: value for name, value in raw.items() if name not in fields}
            items.append(Item(document, (section, index), kept, True, fields))
    return items


def _name_key(item: Item, section: str) -> Any:
    raw = item.raw
    if not isinstance(raw, dict):
        return None
    if section == "configs":
        ws, name = raw.get("workspace"), raw.get("name")
        return (ws, name) if isinstance(ws, str) and isinstance(name, str) else None
    name = raw.get("name")
    return name if isinstance(name, str) else None


class _AnyName(set[str]):
    """Every name: a workspace declared in another file is checked there (``built.merged``)."""

    def __contains__(self, name: object) -> bool:
        return True


def build_state(
    documents: list[Document],
    broken: Broken,
    catalog: Mapping[str, Factory],
    *,
    across_files: bool = False,
) -> tuple[DesiredState, list[Diagnostic]]:
    """Check references between objects and build the desired state.

    ``broken`` holds what the schema rejected. The state is only meaningful when no error was
    reported. ``across_files``: ``documents`` are one file of a state whose others are built
    apart (``built.build_file``), so a config's workspace and a workspace's defaults, which
    may be declared in another file, are left to ``built.merged``.
    """
    builder = _Builder(catalog)
    sections: dict[str, dict[Any, Item]] = {}
    kinds = (("factories", "factory"), ("workspaces", "workspace"), ("configs", "config"))
    for section, kind in kinds:
        keyed = [
            (key, item)
            for item in _items(documents, section, broken)
            if (key := _name_key(item, section)) is not None
        ]
        sections[section] = builder.unique(kind, keyed)

    factories: dict[str, Factory] = dict(catalog)
    for name, item in sections["factories"].items():
        if item.valid and not item.broken:
            factories[name] = builder.factory(item)
        else:  # known, so configs naming it are not "unknown", but not checkable
            factories.pop(name, None)
            builder.unusable_factories.add(name)
    workspace_names = _AnyName() if across_files else set(sections["workspaces"])

    configs: dict[tuple[str, str], Config] = {}
    for key, item in sections["configs"].items():
        if item.valid:
            config = builder.config(item, factories, workspace_names)
            if config is not None:
                configs[key] = config

    # a default naming a config that failed its own checks would be reported twice
    failed_by_workspace: dict[str, set[str]] = {}
    for ws, config_name in sections["configs"]:
        if (ws, config_name) not in configs:
            failed_by_workspace.setdefault(ws, set()).add(config_name)
    workspaces: dict[str, Workspace] = {}
    for name, item in sections["workspaces"].items():
        if item.valid:
            workspace = builder.workspace(item)
            workspaces[name] = workspace
            failed = failed_by_workspace.get(name, set())
            if across_files:
                continue
            if not any(t.partition("/")[0] in failed for t in workspace.defaults.values()):
                builder.defaults(item, workspace, configs)

    used = {config.factory for config in configs.values()}
    declared = set(sections["factories"])
    state = DesiredState(
        factories={
            name: f for name, f in sorted(factories.items()) if name in declared or name in used
        },
        workspaces=dict(sorted(workspaces.items())),
        configs=dict(sorted(configs.items())),
    )
    return state, builder.diagnostics
