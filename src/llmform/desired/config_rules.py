"""A config's checks against its factory and provider type: the factory and workspace it names,
its keys (a key is needed unless the provider needs none), the options its provider type requires
or ignores, its endpoint and its models (from the factory's catalog, or custom).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .items import Item, Reporter, did_you_mean, model_from_raw
from .model import Config, Factory, Model, SecretRef, frozen_map
from .provider_types import ALL_OPTIONS, ALL_SECRET_OPTIONS, PROVIDER_TYPES
from .secret_shapes import shown as quoted

_OPTION_EXAMPLES = {"api_version": "2024-10-21", "region": "us-east-1"}


class ConfigRules(Reporter):
    """A config checked against its factory and provider type, with every problem reported."""

    def config(
        self,
        item: Item,
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
                f"{did_you_mean(raw['workspace'], workspaces)}; declare it under 'workspaces'",
            )
        factory = factories.get(raw.get("factory", ""))
        if factory is None and ("factory" not in raw or raw["factory"] in self.unusable_factories):
            return None  # missing, or refused by the schema (already reported), or unusable
        if factory is None:
            self.err(
                item,
                ("factory",),
                f"unknown factory {quoted(raw['factory'])}"
                f"{did_you_mean(raw['factory'], factories)}; "
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

    def config_models(self, item: Item, factory: Factory) -> tuple[Model, ...] | None:
        models: list[Model] = []
        seen: set[str] = set()
        ok = True
        for index, raw in enumerate(item.raw.get("models", [])):
            if isinstance(raw, str):
                model = factory.model(raw)
                if model is None:
                    ok = False
                    hint = did_you_mean(raw, (m.name for m in factory.models))
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
