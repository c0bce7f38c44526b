"""Documents -> DesiredState: references, duplicates and provider rules, every problem collected.

Runs after the schema check and trusts its shapes only for items the schema passed; an item with
schema errors is registered by name (so that others referring to it are not reported twice) and
otherwise skipped.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import Diagnostic, Location, error, warning
from ..secrets.refs import RefSyntaxError, parse_ref
from .endpoints import check_url
from .loader import Document
from .model import Config, DesiredState, Factory, Model, SecretRef, Workspace, frozen_map
from .provider_types import ALL_OPTIONS, ALL_SECRET_OPTIONS, PROVIDER_TYPES
from .secret_shapes import format_path, reference_secret
from .secret_shapes import shown as quoted

Path = tuple[str | int, ...]
# The largest max_tokens: SQLite's INTEGER is a signed 64-bit number (the schema's maximum).
MAX_TOKENS = 2**63 - 1
# (file, (section, index, field)) of schema-rejected fields; field None: the whole item
Broken = set[tuple[str, tuple[str, int, str | None]]]


def _is_integral(value: Any) -> bool:
    if isinstance(value, float):
        return value.is_integer()
    return isinstance(value, int) and not isinstance(value, bool)


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    match = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


@dataclass
class _Item:
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
class _Builder:
    catalog: Mapping[str, Factory]
    diagnostics: list[Diagnostic] = field(default_factory=list)
    unusable_factories: set[str] = field(default_factory=set)

    def err(self, item: _Item, steps: tuple[str | int, ...], message: str) -> None:
        self.diagnostics.append(error(item.at(*steps), item.dotted(*steps), message))

    def warn(self, item: _Item, steps: tuple[str | int, ...], message: str) -> None:
        self.diagnostics.append(warning(item.at(*steps), item.dotted(*steps), message))

    def unique(self, kind: str, items: list[tuple[Any, _Item]]) -> dict[Any, _Item]:
        """First item per key; a duplicate is reported at each of its places, once."""
        groups: dict[Any, list[_Item]] = {}
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

    # -- factories ---------------------------------------------------------------------------

    def factory(self, item: _Item, *, builtin: bool = False) -> Factory:
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

    def models(self, item: _Item, raw_models: list[Any], *, custom: bool) -> tuple[Model, ...]:
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

    def max_tokens(self, item: _Item, steps: tuple[str | int, ...], raw: Mapping[str, Any]) -> bool:
        """Whether a model's max_tokens fits the store (the schema says so too; this holds for
        whatever reaches the state, a plan's records included)."""
        value = raw.get("max_tokens")
        if value is None or (type(value) is int and 0 <= value <= MAX_TOKENS):
            return True
        if _is_integral(value) and 0 <= value <= MAX_TOKENS:  # 8192.0
            return True
        self.err(
            item,
            (*steps, "max_tokens"),
            f"must be a whole number from 0 to {MAX_TOKENS} (2^63 - 1, what the store holds)",
        )
        return False

    def url(self, item: _Item, steps: tuple[str | int, ...], value: str) -> None:
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

    # -- configs -----------------------------------------------------------------------------

    def ref(
        self, item: _Item, steps: tuple[str | int, ...], raw: Mapping[str, Any]
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

    def config(
        self,
        item: _Item,
        factories: Mapping[str, Factory],
        workspaces: Iterable[str],
    ) -> Config | None:
        raw = item.raw
        ok = True
        if "workspace" in raw and raw["workspace"] not in workspaces:
            ok = False
            self.err(
                item,
                ("workspace",),
                f"unknown workspace {quoted(raw['workspace'])}"
                f"{_did_you_mean(raw['workspace'], workspaces)}; declare it under 'workspaces'",
            )
        factory = factories.get(raw.get("factory", ""))
        if factory is None and ("factory" not in raw or raw["factory"] in self.unusable_factories):
            return None  # missing, or refused by the schema (already reported), or unusable
        if factory is None:
            self.err(
                item,
                ("factory",),
                f"unknown factory {quoted(raw['factory'])}"
                f"{_did_you_mean(raw['factory'], factories)}; "
                "declare it under 'factories' or pick one from 'llmform catalog'",
            )
            return None
        provider = PROVIDER_TYPES[factory.type]

        api_key = self.ref(item, ("api_key",), raw["api_key"]) if "api_key" in raw else None
        backups: list[SecretRef] = []
        for index, ref_raw in enumerate(raw.get("backup_keys", [])):
            ref = self.ref(item, ("backup_keys", index), ref_raw)
            ok = ok and ref is not None
            if ref is not None:
                backups.append(ref)
        if "api_key" in raw and api_key is None:
            ok = False
        if not item.has("api_key") and (provider.needs_key or backups):
            ok = False
            self.err(
                item,
                (),
                f"missing 'api_key': factory {factory.name!r} ({factory.type}) needs a key; "
                'write api_key: {vault: "path#key"} or {env: NAME}',
            )

        options: dict[str, str] = {}
        for option in ALL_OPTIONS:
            if option in raw:
                options[option] = raw[option]
        secret_options: dict[str, SecretRef] = {}
        for option in ALL_SECRET_OPTIONS:
            if option in raw:
                ref = self.ref(item, (option,), raw[option])
                ok = ok and ref is not None
                if ref is not None:
                    secret_options[option] = ref
        for option in provider.required_options:
            if not item.has(option):
                ok = False
                self.err(
                    item,
                    (),
                    f"missing {option!r}: {factory.type} configs require it "
                    f"(e.g. {option}: {_OPTION_EXAMPLES[option]})",
                )
        allowed = set(provider.required_options) | set(provider.secret_options)
        for option in (*options, *secret_options):
            if option not in allowed:
                self.warn(
                    item,
                    (option,),
                    f"{option!r} is not used by provider type {factory.type!r}; remove it",
                )

        api_base = raw.get("api_base")
        if api_base is not None:
            self.url(item, ("api_base",), api_base)
        elif factory.api_base is None and not item.has("api_base") and not provider.endpoint_from:
            ok = False
            self.err(
                item,
                (),
                f"missing 'api_base': factory {factory.name!r} has no default endpoint",
            )

        models = self.config_models(item, factory)
        ok = ok and models is not None and not item.broken
        if not ok or models is None:
            return None
        return Config(
            workspace=raw["workspace"],
            name=raw["name"],
            factory=factory.name,
            api_base=api_base or factory.api_base,
            api_key=api_key,
            backup_keys=tuple(backups),
            models=models,
            enabled=raw.get("enabled", True),
            description=raw.get("description", ""),
            options=frozen_map(options),
            secret_options=secret_options,
            protect=raw.get("protect", False),
            location=item.at(),
        )

    def config_models(self, item: _Item, factory: Factory) -> tuple[Model, ...] | None:
        models: list[Model] = []
        seen: set[str] = set()
        ok = True
        for index, raw in enumerate(item.raw.get("models", [])):
            if isinstance(raw, str):
                model = factory.model(raw)
                if model is None:
                    ok = False
                    hint = _did_you_mean(raw, (m.name for m in factory.models))
                    custom = raw if quoted(raw) == repr(raw) else "NAME"
                    self.err(
                        item,
                        ("models", index),
                        f"model {quoted(raw)} is not in the catalog of factory "
                        f"{factory.name!r}{hint}; declare a custom model as "
                        f"{{name: {custom}, type: chat}}",
                    )
                    continue
            elif self.max_tokens(item, ("models", index), raw):
                model = model_from_raw(raw, custom=True)
            else:
                ok = False
                continue
            if model.name in seen:
                ok = False
                self.err(
                    item,
                    ("models", index),
                    f"model {quoted(model.name)} is listed twice; remove one",
                )
                continue
            seen.add(model.name)
            models.append(model)
        return tuple(models) if ok else None

    # -- workspaces --------------------------------------------------------------------------

    def workspace(self, item: _Item) -> Workspace:
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
        self, item: _Item, workspace: Workspace, configs: Mapping[tuple[str, str], Config]
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
                    f"{_did_you_mean(config_name, names)}; a default is 'config/model' naming a "
                    "config of the same workspace",
                )
                continue
            model = next((m for m in config.models if m.name == model_name), None)
            if model is None:
                hint = _did_you_mean(model_name, (m.name for m in config.models))
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


_OPTION_EXAMPLES = {"api_version": "2024-10-21", "region": "us-east-1"}


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


def _items(documents: Iterable[Document], section: str, broken: Broken) -> list[_Item]:
    items = []
    for document in documents:
        entries = document.data.get(section)
        if not isinstance(entries, list):
            continue
        for index, raw in enumerate(entries):
            if (document.file, (section, index, None)) in broken or not isinstance(raw, dict):
                items.append(_Item(document, (section, index), raw, valid=False))
                continue
            fields = frozenset(
                name for name in raw if (document.file, (section, index, name)) in broken
            )
            kept = {name: value for name, value in raw.items() if name not in fields}
            items.append(_Item(document, (section, index), kept, True, fields))
    return items


def _name_key(item: _Item, section: str) -> Any:
    raw = item.raw
    if not isinstance(raw, dict):
        return None
    if section == "configs":
        ws, name = raw.get("workspace"), raw.get("name")
        return (ws, name) if isinstance(ws, str) and isinstance(name, str) else None
    name = raw.get("name")
    return name if isinstance(name, str) else None


def build_state(
    documents: list[Document],
    broken: Broken,
    catalog: Mapping[str, Factory],
) -> tuple[DesiredState, list[Diagnostic]]:
    """Check references between objects and build the desired state.

    ``broken`` holds what the schema rejected. The state is only meaningful when no error was
    reported.
    """
    builder = _Builder(catalog)
    sections: dict[str, dict[Any, _Item]] = {}
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
    workspace_names = set(sections["workspaces"])

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
