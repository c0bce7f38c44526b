"""Adoption's pure parts: which hand-made MLflow gateway objects make a config llmform can adopt
(targets/mlflow/adoption.py) and the config they read as; the shapes that do not, each left
whole and named with its reason; what an adopted config owns once its endpoints are tagged
(targets/mlflow/objects.py); and when a declaration adopts an offered resource
(engine/adoption.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from types import MappingProxyType

import pytest

from llmform.core.resources import Resource
from llmform.engine.adoption import adopt, adoption_notes, takes_over
from llmform.targets.base import Adoptable, StoreState
from llmform.targets.mlflow import adoption
from llmform.targets.mlflow import mapping as m
from llmform.targets.mlflow.objects import WorkspaceObjects
from llmform.targets.mlflow.records import Endpoint, Linkage, ModelConfig, ModelDefinition, Secret

BASE = {"api_base": "http://10.0.0.1/v1"}


def secret(name: str, provider: str = "openai", auth: dict[str, str] | None = None) -> Secret:
    masked = MappingProxyType({"api_key": "sk-...cdef"})
    return Secret(f"s-{name}", name, provider, masked, MappingProxyType(auth or dict(BASE)))


def md(name: str, on: Secret, model: str) -> ModelDefinition:
    return ModelDefinition(f"d-{name}", name, on.secret_id, on.name, on.provider, model)


def endpoint(name: str, *route: ModelDefinition, tags: dict[str, str] | None = None) -> Endpoint:
    configs = [ModelConfig(route[0].model_definition_id)] + [
        ModelConfig(d.model_definition_id, Linkage.FALLBACK, 1.0, n)
        for n, d in enumerate(route[1:], 1)
    ]
    return Endpoint(f"e-{name}", name, tuple(configs), MappingProxyType(tags or {}))


def gateway() -> WorkspaceObjects:
    """Key ``openai prod`` with its backup, two models each with an endpoint."""
    prod, backup = secret("openai prod"), secret("openai-backup")
    mds = (
        md("gpt4o", prod, "gpt-4o"),
        md("house", prod, "house-model"),
        md("gpt4o-b", backup, "gpt-4o"),
        md("house-b", backup, "house-model"),
    )
    endpoints = (endpoint("chat", mds[0], mds[2]), endpoint("house", mds[1], mds[3]))
    return WorkspaceObjects((prod, backup), mds, endpoints)


def test_a_key_its_backup_and_their_endpoints_read_as_one_config() -> None:
    found, notes = adoption.candidates("team", gateway())
    (candidate,) = found
    assert candidate.address == "config.team/openai-prod"
    assert {k: s.name for k, s in candidate.owned.secrets.items()} == {
        "api_key": "openai prod",
        "backup_keys[0]": "openai-backup",
    }
    assert {k: d.name for k, d in candidate.owned.model_definitions.items()} == {
        ("gpt-4o", "api_key"): "gpt4o",
        ("gpt-4o", "backup_keys[0]"): "gpt4o-b",
        ("house-model", "api_key"): "house",
        ("house-model", "backup_keys[0]"): "house-b",
    }
    assert {k: e.name for k, e in candidate.owned.endpoints.items()} == {
        "gpt-4o": "chat",
        "house-model": "house",
    }
    resource = candidate.resource()
    assert resource.attrs == {
        "factory": "OpenAI",
        "api_base": "http://10.0.0.1/v1",
        "enabled": True,
        "description": "",
        "models": [
            {"name": "gpt-4o"},  # the catalog's; the other is custom
            {"name": "house-model", "type": ["chat"], "custom": True},
        ],
        "options": {},
        "secrets": {
            "api_key": "env:MLFLOW_OPENAI_PROD_API_KEY",
            "backup_keys[0]": "env:MLFLOW_OPENAI_PROD_BACKUP_KEY_1",
        },
    }
    # the keys' values read as written outside llmform: markers that show nothing of the mask
    marker = m.changed_outside_marker("sk-...cdef")
    assert resource.secrets == {"api_key": marker, "backup_keys[0]": marker}
    assert "cdef" not in repr(resource)
    assert sorted(candidate.objects) == [
        "config.team/endpoint:chat",
        "config.team/endpoint:house",
        "config.team/model-definition:gpt4o",
        "config.team/model-definition:gpt4o-b",
        "config.team/model-definition:house",
        "config.team/model-definition:house-b",
        "config.team/secret:openai prod",
        "config.team/secret:openai-backup",
    ]
    # MLflow's defaults are kept, and said
    assert notes == []
    tracked = replace(gateway().endpoints[0], usage_tracking=True)
    objects = replace(gateway(), endpoints=(tracked, gateway().endpoints[1]))
    assert adoption.candidates("team", objects)[1] == [
        "endpoint chat in MLflow workspace team: usage tracking on: llmform does not represent "
        "this and leaves it as it is"
    ]


def test_the_catalog_api_base_is_left_to_the_factory() -> None:
    key = secret("k", auth={"api_base": "https://api.openai.com/v1"})
    objects = WorkspaceObjects((key,), (md("x", key, "gpt-4o"),), ())
    objects = replace(objects, endpoints=(endpoint("x", objects.model_definitions[0]),))
    (candidate,) = adoption.candidates("w", objects)[0]
    assert candidate.resource().attrs["api_base"] is None


def _model_fallback(o: WorkspaceObjects) -> WorkspaceObjects:
    return replace(o, endpoints=(endpoint("chat", o.model_definitions[0], o.model_definitions[1]),))


def _shared(o: WorkspaceObjects) -> WorkspaceObjects:
    extra = endpoint("again", o.model_definitions[0], o.model_definitions[2])
    return replace(o, endpoints=(*o.endpoints, extra))


def _unserved(o: WorkspaceObjects) -> WorkspaceObjects:
    return replace(o, endpoints=o.endpoints[:1])


def _other_auth(o: WorkspaceObjects) -> WorkspaceObjects:
    other = secret("openai-backup", auth={"api_base": "http://10.0.0.2/v1"})
    return replace(o, secrets=(o.secrets[0], other))


def _extra_auth(o: WorkspaceObjects) -> WorkspaceObjects:
    auth = {**BASE, "organization": "x"}
    keys = (secret("openai prod", auth=auth), secret("openai-backup", auth=auth))
    return replace(o, secrets=keys)


def _no_factory(o: WorkspaceObjects) -> WorkspaceObjects:
    keys = tuple(secret(s.name, provider="mosaic") for s in o.secrets)
    mds = tuple(replace(d, provider="mosaic") for d in o.model_definitions)
    return replace(o, secrets=keys, model_definitions=mds)


def _taken(o: WorkspaceObjects) -> WorkspaceObjects:
    return replace(o, secrets=(*o.secrets, secret("llmform/openai-prod")))


def _two_values(o: WorkspaceObjects) -> WorkspaceObjects:
    values = MappingProxyType({"api_key": "sk-...cdef", "api_secret": "***"})
    return replace(o, secrets=(replace(o.secrets[0], masked_values=values), o.secrets[1]))


REFUSED: dict[str, tuple[Callable[[WorkspaceObjects], WorkspaceObjects], str]] = {
    "a fallback to another model": (_model_fallback, "falls back to another model"),
    "a model definition two endpoints use": (_shared, "is used by more than one endpoint"),
    "a model served by no endpoint": (_unserved, "served by no endpoint of it"),
    "a backup elsewhere": (_other_auth, "has another provider or auth_config"),
    "an auth_config field llmform lacks": (_extra_auth, "organization has no llmform counterpart"),
    "a provider without a factory": (_no_factory, "provider mosaic has no llmform factory"),
    "a config name llmform uses": (_taken, "its config name openai-prod is taken"),
    "a secret of two values": (_two_values, "holds other values than an api_key"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_a_shape_llmform_cannot_hold_is_left_whole_and_named(case: str) -> None:
    change, reason = REFUSED[case]
    found, notes = adoption.candidates("team", change(gateway()))
    assert found == []
    assert any(reason in note for note in notes), notes
    # every hand-made object is named, none is taken apart
    named = {note.split(" in MLflow")[0] for note in notes if "is not exported" in note}
    assert "secret openai prod" in named and "endpoint chat" in named


def test_config_names_are_made_of_what_a_config_name_may_hold() -> None:
    assert adoption.config_name("openai prod") == "openai-prod"
    assert adoption.config_name("-x.y_z") == "x.y_z"
    assert adoption.config_name("clé\x1b[31m") == "cl---31m"


def adopted(objects: WorkspaceObjects, config: str) -> WorkspaceObjects:
    """``objects`` with the endpoints of ``config``'s candidate tagged as apply tags them."""
    (candidate,) = adoption.candidates("team", objects)[0]
    tagged = []
    for e in objects.endpoints:
        model = next((k for k, v in candidate.owned.endpoints.items() if v == e), None)
        if model is None:
            tagged.append(e)
            continue
        tags = {m.MANAGED_TAG: "true", m.CONFIG_TAG: config, m.MODEL_TAG: model}
        tagged.append(replace(e, tags=MappingProxyType({**tags, m.ADOPTED_TAG: "true"})))
    return replace(objects, endpoints=tuple(tagged))


def test_an_adopted_config_owns_its_objects_through_its_tagged_endpoints() -> None:
    objects = adopted(gateway(), "openai-prod")
    owned = objects.owned("openai-prod")
    assert {s.name for s in owned.secrets.values()} == {"openai prod", "openai-backup"}
    assert len(owned.model_definitions) == 4 and len(owned.endpoints) == 2
    assert objects.config_names() == ["openai-prod"]
    assert objects.unmanaged("team") == {}
    assert adoption.candidates("team", objects) == ([], [])
    # an endpoint llmform made, rerouted in MLflow to a hand-made definition, does not make
    # that definition llmform's (only an adopted endpoint's route does)
    hand = secret("hand")
    hand_md = md("hand-md", hand, "gpt-4o")
    tags = {m.MANAGED_TAG: "true", m.CONFIG_TAG: "c", m.MODEL_TAG: "gpt-4o"}
    rerouted = endpoint("c.gpt-4o", hand_md, tags=tags)
    objects = WorkspaceObjects((hand, secret("llmform/c")), (hand_md,), (rerouted,))
    assert objects.owned("c").model_definitions == {}
    assert set(objects.unmanaged("w")) == {
        "config.w/secret:hand",
        "config.w/model-definition:hand-md",
    }


def config(models: list[str], factory: str = "OpenAI", enabled: bool = True) -> Resource:
    attrs = {
        "factory": factory,
        "enabled": enabled,
        "models": [{"name": n} for n in models],
        "secrets": {},
    }
    return Resource("config.w/c", "config", "w", attrs)


@pytest.mark.parametrize(
    ("wanted", "adopted_"),
    [
        (config(["a", "b"]), True),
        (config(["a", "b", "c"]), True),  # a model added: made beside the adopted ones
        (config(["a"]), False),  # one taken away: never by adoption
        (config(["a", "b"], factory="Other"), False),  # a replace
        (config(["a", "b"], enabled=False), False),  # its endpoints would go
    ],
)
def test_a_declaration_adopts_only_what_it_changes_in_place_without_taking_away(
    wanted: Resource, adopted_: bool
) -> None:
    offered = config(["a", "b"])
    assert takes_over(offered, wanted) is adopted_
    state = StoreState(
        "l",
        0,
        {},
        {"config.w/secret:k": offered, "config.w/endpoint:e": offered},
        adoptable={"config.w/c": Adoptable(offered, ("config.w/secret:k", "config.w/endpoint:e"))},
    )
    after = adopt(state, {"config.w/c": wanted})
    if adopted_:
        assert after.resources == {"config.w/c": offered} and after.unmanaged == {}
        assert adoption_notes(state, after) == (
            "config.w/c adopts what llmform did not make (secret:k, endpoint:e): apply takes "
            "it over under its own names and manages it from then on",
        )
    else:  # left alone, and the plan warns that it is
        assert after.resources == {} and "config.w/c" in after.unmanaged
    # not declared: unmanaged as it was
    assert adopt(state, {}) == state


def test_nothing_in_mlflows_default_workspace_is_offered() -> None:
    found, notes = adoption.candidates("default", gateway())
    assert found == []
    assert (
        "secret openai prod in MLflow workspace default is not exported (llmform does not "
        "manage MLflow's default workspace: move it to one of its own); it stays unmanaged"
    ) in notes
    assert len([n for n in notes if "default workspace" in n]) == 8  # each object named
