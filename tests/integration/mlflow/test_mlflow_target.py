"""The MLflow gateway target against a real ``mlflow server`` (the session's, conftest.py): a
config's secret, model definitions and endpoints created, updated (model added, key rotated,
api_base moved) and deleted in MLflow's order, read back into the resources a plan compares (so
that a plan with nothing to do is empty), a key changed in MLflow seen as drift, hand-made
objects listed as unmanaged and left alone, and the canary key in no exception, repr or log.

Each test works in a workspace of its own, with a plan scoped to it, since the server is shared.
"""

from __future__ import annotations

import logging
import secrets
import traceback
from collections.abc import Iterator, Mapping

import pytest
from support.mlflow_server import MlflowServer

from llmform.core.diff import NOOP, Change, Scope, diff
from llmform.core.resources import Resource, config_resource, factory_resource, workspace_resource
from llmform.desired.model import Config, EnvRef, Factory, Model, Workspace
from llmform.errors import StoreError
from llmform.secrets.base import SecretValue, fingerprint
from llmform.targets.base import OpenMode, SteppedTarget
from llmform.targets.mlflow import mapping as m
from llmform.targets.mlflow.client import MlflowClient
from llmform.targets.mlflow.records import FallbackConfig, Linkage, ModelConfig
from llmform.targets.mlflow.target import MlflowTarget, server_url

KEY = b"f" * 32  # the state's fingerprint key
API_BASE = "http://127.0.0.1:9/v1"  # never called: these tests only configure the gateway
OTHER_BASE = "http://127.0.0.1:8/v1"
FACTORY = Factory("openai", "openai", None, models=(Model("gpt-4o", ("chat",)),))


def key(label: str) -> SecretValue:
    return SecretValue(f"sk-{label}-{secrets.token_hex(12)}")


def masked(value: SecretValue) -> str:
    text = value.reveal()
    return f"{text[:3]}...{text[-4:]}"


class Gateway:
    """A test's view: the target, a client, its workspace, and the state's record (what a
    ``SteppedStateStore.last_applied()`` returns), kept as ``record_step`` keeps it."""

    def __init__(self, server: MlflowServer) -> None:
        self.target = MlflowTarget("mlflow+" + server.url, OpenMode.APPLY)
        self.client = MlflowClient(server.url)
        self.workspace = f"t-{secrets.token_hex(4)}"
        self.last: dict[str, Resource] = {}
        self.values: dict[EnvRef, SecretValue] = {}

    def desired(
        self, models: tuple[str, ...], api_base: str, keys: Mapping[str, SecretValue]
    ) -> dict[str, Resource]:
        """Workspace (default chat -> chat/gpt-4o) and config ``chat`` with ``keys``
        (``api_key``, then backups), each behind an env reference named after its slot."""
        refs = {slot: EnvRef(f"KEY_{index}") for index, slot in enumerate(keys)}
        self.values = {refs[slot]: value for slot, value in keys.items()}
        backups = tuple(refs[s] for s in keys if s != "api_key")
        config = Config(
            self.workspace,
            "chat",
            "openai",
            api_base,
            refs["api_key"],
            backups,
            tuple(Model(name, ("chat",)) for name in models),
        )
        workspace = Workspace(self.workspace, "a test's", defaults={"chat": "chat/gpt-4o"})
        fingerprints = {ref: fingerprint(KEY, value) for ref, value in self.values.items()}
        made = [factory_resource(FACTORY), workspace_resource(workspace)]
        made.append(config_resource(config, fingerprints))
        return {r.address: r for r in made}

    def plan(self, desired: Mapping[str, Resource]) -> list[Change]:
        current = self.target.read_resources(self.last)
        changes = diff(
            desired,
            current.managed,
            scope=Scope(frozenset({self.workspace})),
            unmanaged=current.unmanaged,
        )
        return [c for c in changes if c.action != NOOP]

    def apply(self, changes: list[Change]) -> None:
        self.target.use_secrets(self.values)
        for change in changes:
            self.target.apply_change(change)
            if change.after is None:
                self.last.pop(change.address, None)
            else:
                self.last[change.address] = change.after

    def secrets(self) -> dict[str, tuple[str, str, str]]:
        return {
            s.name: (s.masked_values["api_key"], s.auth_config.get("api_base", ""), s.created_by)
            for s in self.client.list_secrets(self.workspace)
        }

    def close(self) -> None:
        self.target.close()
        self.client.close()


@pytest.fixture
def gateway(mlflow_server: MlflowServer) -> Iterator[Gateway]:
    made = Gateway(mlflow_server)
    yield made
    made.close()


def test_the_url_and_the_protocol(mlflow_server: MlflowServer) -> None:
    assert server_url("mlflow+https://gw.example:5000/mlflow") == "https://gw.example:5000/mlflow"
    for wrong in ("mlflow://h:1", "mlflow+ftp://h", "mlflow+http:///path", "http://h:1"):
        with pytest.raises(StoreError, match="mlflow\\+http://HOST:PORT"):
            server_url(wrong)
    target = MlflowTarget("mlflow+http://user:pw@127.0.0.1:5000/x?token=t")
    assert target.display_url == "mlflow+http://127.0.0.1:5000/x"
    assert "pw" not in repr(target)
    assert isinstance(target, SteppedTarget)
    target.close()


def test_an_empty_workspace_reads_as_unmanaged_until_llmform_applied_it(gateway: Gateway) -> None:
    gateway.client.create_workspace(gateway.workspace, "made by hand")
    before = gateway.client.requests
    read = gateway.target.read_resources()
    address = f"workspace.{gateway.workspace}"
    assert address in read.unmanaged and address not in read.managed
    assert not [a for a in read.managed if gateway.workspace in a]
    # one request per object type per workspace, plus the workspace listing
    workspaces = len(gateway.client.list_workspaces())
    assert gateway.target.client.requests == 1 + 3 * workspaces
    assert gateway.client.requests == before + 1


def test_a_config_is_created_updated_and_deleted_in_mlflows_order(gateway: Gateway) -> None:
    ws, client = gateway.workspace, gateway.client
    first, backup = key("first"), key("backup")
    v1 = gateway.desired(("gpt-4o",), API_BASE, {"api_key": first, "backup_keys[0]": backup})
    created = gateway.plan(v1)
    assert [(c.action, c.address) for c in created] == [
        ("create", "factory.openai"),
        ("create", f"workspace.{ws}"),
        ("create", f"config.{ws}/chat"),
    ]
    gateway.apply(created)

    assert gateway.secrets() == {
        "llmform/chat": (masked(first), API_BASE, "llmform"),
        "llmform/chat#backup_keys[0]": (masked(backup), API_BASE, "llmform"),
    }
    mds = {md.name: md for md in client.list_model_definitions(ws)}
    assert set(mds) == {"llmform/chat/gpt-4o", "llmform/chat/gpt-4o#backup_keys[0]"}
    assert {md.model_name for md in mds.values()} == {"gpt-4o"}
    route = (
        ModelConfig(mds["llmform/chat/gpt-4o"].model_definition_id),
        ModelConfig(
            mds["llmform/chat/gpt-4o#backup_keys[0]"].model_definition_id,
            Linkage.FALLBACK,
            1.0,
            1,
        ),
    )
    endpoints = {e.name: e for e in client.list_endpoints(ws)}
    assert set(endpoints) == {"chat.gpt-4o", "default-chat"}
    assert endpoints["chat.gpt-4o"].model_configs == route
    assert endpoints["chat.gpt-4o"].fallback == FallbackConfig("SEQUENTIAL")
    assert dict(endpoints["chat.gpt-4o"].tags) == {
        "llmform.managed": "true",
        "llmform.config": "chat",
        "llmform.model": "gpt-4o",
    }
    assert endpoints["default-chat"].model_configs == route
    assert dict(endpoints["default-chat"].tags) == {
        "llmform.managed": "true",
        "llmform.default": "chat",
    }
    assert gateway.plan(v1) == []  # read back in the normal form: nothing to do

    # update: a model added, the key rotated (same reference, new value), api_base moved
    second = key("second")
    v2 = gateway.desired(
        ("gpt-4o", "gpt-4o-mini"), OTHER_BASE, {"api_key": second, "backup_keys[0]": backup}
    )
    updated = gateway.plan(v2)
    assert [(c.action, c.address) for c in updated] == [("update", f"config.{ws}/chat")]
    assert {f.name for f in updated[0].fields} == {
        "api_base",
        "models",
        "secrets.api_key.value",
    }
    gateway.apply(updated)
    assert gateway.secrets() == {
        "llmform/chat": (masked(second), OTHER_BASE, "llmform"),
        "llmform/chat#backup_keys[0]": (masked(backup), OTHER_BASE, "llmform"),
    }
    assert {e.name for e in client.list_endpoints(ws)} == {
        "chat.gpt-4o",
        "chat.gpt-4o-mini",
        "default-chat",
    }
    assert len(client.list_model_definitions(ws)) == 4
    assert gateway.plan(v2) == []

    # delete: the config goes (endpoints, then model definitions, then secrets), then the rest
    v3 = {a: r for a, r in v2.items() if r.kind == "workspace"}
    v3[f"workspace.{ws}"] = workspace_resource(Workspace(ws, "a test's"))
    deleted = gateway.plan(v3)
    assert [(c.action, c.address) for c in deleted] == [
        ("delete", f"config.{ws}/chat"),
        ("update", f"workspace.{ws}"),
    ]
    gateway.apply(deleted)
    assert client.list_endpoints(ws) == ()
    assert client.list_model_definitions(ws) == ()
    assert client.list_secrets(ws) == ()
    assert gateway.plan(v3) == []
    emptied = gateway.plan({})  # a plan scoped to the workspace never deletes factories
    assert [(c.action, c.address) for c in emptied] == [("delete", f"workspace.{ws}")]
    gateway.apply(emptied)
    assert ws not in {w.name for w in client.list_workspaces()}


def _delete(resource: Resource) -> Change:
    return Change(resource.address, resource.kind, resource.workspace, "delete", resource, None)


def test_a_key_changed_in_mlflow_is_drift_and_apply_pushes_it_back(gateway: Gateway) -> None:
    ws = gateway.workspace
    first = key("first")
    desired = gateway.desired(("gpt-4o",), API_BASE, {"api_key": first})
    gateway.apply(gateway.plan(desired))
    secret = gateway.client.list_secrets(ws)[0]
    gateway.client.update_secret(ws, secret.secret_id, {"api_key": key("by-hand")})
    drift = gateway.plan(desired)
    assert [(c.action, c.address) for c in drift] == [("update", f"config.{ws}/chat")]
    assert [f.name for f in drift[0].fields] == ["secrets.api_key.value"]
    assert drift[0].fields[0].sensitive
    gateway.apply(drift)
    assert gateway.secrets()["llmform/chat"][0] == masked(first)
    assert gateway.plan(desired) == []
    # an endpoint deleted in MLflow: its model reads as no longer served, and comes back
    endpoint = gateway.client.get_endpoint_by_name(ws, "chat.gpt-4o")
    gateway.client.delete_endpoint(ws, endpoint.endpoint_id)
    gone = gateway.plan(desired)
    assert [(c.action, c.address) for c in gone] == [("update", f"config.{ws}/chat")]
    assert [f.name for f in gone[0].fields] == ["models"]
    gateway.apply(gone)
    assert gateway.plan(desired) == []
    # a tag removed in MLflow (or an apply cut off between two tags) is set again
    endpoint = gateway.client.get_endpoint_by_name(ws, "chat.gpt-4o")
    gateway.client.delete_endpoint_tag(ws, endpoint.endpoint_id, "llmform.model")
    gateway.apply(gateway.plan(desired))
    tags = gateway.client.get_endpoint_by_name(ws, "chat.gpt-4o").tags
    assert tags["llmform.model"] == "gpt-4o"
    assert gateway.plan(desired) == []
    # to another repository's state (which holds none of this), all of it is unmanaged
    another = MlflowTarget(gateway.target.display_url)
    other = another.read_resources({})
    another.close()
    assert {f"workspace.{ws}", f"config.{ws}/chat"} <= set(other.unmanaged)
    assert not [a for a in other.managed if ws in a]


def test_hand_made_objects_are_listed_as_unmanaged_and_left_alone(gateway: Gateway) -> None:
    ws, client = gateway.workspace, gateway.client
    client.create_workspace(ws)
    secret = client.create_secret(ws, "hand", "openai", {"api_key": key("hand")})
    md = client.create_model_definition(ws, "hand-md", secret.secret_id, "openai", "gpt-4o")
    endpoint = client.create_endpoint(ws, "hand-ep", [ModelConfig(md.model_definition_id)])
    gateway.last[f"workspace.{ws}"] = workspace_resource(Workspace(ws))  # llmform's since
    read = gateway.target.read_resources(gateway.last)
    assert {a for a in read.unmanaged if ws in a} == {
        f"config.{ws}/secret:hand",
        f"config.{ws}/model-definition:hand-md",
        f"config.{ws}/endpoint:hand-ep",
    }
    desired = gateway.desired(("gpt-4o",), API_BASE, {"api_key": key("first")})
    gateway.apply(gateway.plan(desired))
    gateway.apply(gateway.plan({a: r for a, r in desired.items() if r.kind != "config"}))
    assert client.list_endpoints(ws) == (client.get_endpoint(ws, endpoint.endpoint_id),)
    assert client.list_model_definitions(ws) == (md,)
    assert [s.name for s in client.list_secrets(ws)] == ["hand"]
    # a hand-made endpoint where llmform would put one is refused, never taken over
    client.create_endpoint(ws, "chat.gpt-4o", [ModelConfig(md.model_definition_id)])
    with pytest.raises(StoreError, match=r"chat\.gpt-4o in workspace .* is not llmform's"):
        gateway.apply(gateway.plan(desired))
    with pytest.raises(StoreError, match="holds objects llmform does not manage"):
        gateway.target.apply_change(_delete(gateway.last[f"workspace.{ws}"]))
    assert client.get_endpoint(ws, endpoint.endpoint_id) == endpoint


def test_the_canary_key_is_in_no_exception_repr_or_log(
    gateway: Gateway, mlflow_server: MlflowServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    canary = SecretValue("sk-canary-" + secrets.token_hex(16))
    desired = gateway.desired(("gpt-4o",), API_BASE, {"api_key": canary})
    changes = gateway.plan(desired)
    config = changes[-1]
    with pytest.raises(StoreError) as missing:  # its workspace is not created yet
        gateway.apply([config])
    gateway.apply(changes)
    read = gateway.target.read_resources(gateway.last)
    texts = [
        str(missing.value),
        repr(missing.value),
        *traceback.format_exception(missing.value),
        repr(gateway.target),
        repr(read),
        caplog.text,
        mlflow_server.log_text(),
        repr(gateway.client.list_secrets(gateway.workspace)),
    ]
    leaked = [t for t in texts if canary.reveal() in t or canary.reveal()[-12:] in t]
    assert not leaked


def test_a_step_that_failed_halfway_is_finished_by_the_next_plan(gateway: Gateway) -> None:
    ws, client = gateway.workspace, gateway.client
    desired = gateway.desired(("gpt-4o",), API_BASE, {"api_key": key("first")})
    changes = gateway.plan(desired)
    gateway.apply(changes[:2])  # the factory and the workspace
    # a hand-made endpoint where the config's goes: its secret and model definition land,
    # then MLflow refuses the endpoint
    hand = client.create_secret(ws, "hand", "openai", {"api_key": key("hand")})
    md = client.create_model_definition(ws, "hand-md", hand.secret_id, "openai", "gpt-4o")
    blocking = client.create_endpoint(ws, "chat.gpt-4o", [ModelConfig(md.model_definition_id)])
    with pytest.raises(StoreError, match="is not llmform's"):
        gateway.apply(changes[2:])
    assert [s.name for s in client.list_secrets(ws)] == ["hand", "llmform/chat"]
    client.delete_endpoint(ws, blocking.endpoint_id)
    # what landed reads back as the config, to be finished, and the workspace's default
    # endpoint, which waited for the config, as missing
    left = gateway.plan(desired)
    assert [(c.action, c.address) for c in left] == [
        ("update", f"workspace.{ws}"),
        ("update", f"config.{ws}/chat"),
    ]
    gateway.apply(left)
    assert {e.name for e in client.list_endpoints(ws)} == {"chat.gpt-4o", "default-chat"}
    assert gateway.plan(desired) == []


def test_a_disabled_azure_config_has_no_endpoints_and_its_options_in_auth_config(
    gateway: Gateway,
) -> None:
    ws, client = gateway.workspace, gateway.client
    azure = Factory("azure", "azure-openai", None)
    config = Config(
        ws,
        "az",
        "azure",
        API_BASE,
        EnvRef("AZ"),
        models=(Model("gpt-4o", ("chat",), custom=True),),
        enabled=False,
        options={"api_version": "2024-10-21"},
    )
    gateway.values = {EnvRef("AZ"): key("azure")}
    fingerprints = {ref: fingerprint(KEY, value) for ref, value in gateway.values.items()}
    desired = {
        r.address: r
        for r in (
            factory_resource(azure),
            workspace_resource(Workspace(ws)),
            config_resource(config, fingerprints),
        )
    }
    gateway.apply(gateway.plan(desired))
    (secret,) = client.list_secrets(ws)
    assert (secret.provider, dict(secret.auth_config)) == (
        "azure",
        {"api_base": API_BASE, "api_version": "2024-10-21"},
    )
    assert [md.name for md in client.list_model_definitions(ws)] == ["llmform/az/gpt-4o"]
    assert client.list_endpoints(ws) == ()  # disabled: nothing for applications to call
    assert gateway.plan(desired) == []
    # an option changed in MLflow is drift of that option; MLflow does not say which field a
    # write changed, so the key, written by someone else too, is pushed again
    auth = {"api_base": API_BASE, "api_version": "x"}
    client.update_secret(ws, secret.secret_id, auth_config=auth)
    drift = gateway.plan(desired)
    assert [(f.name, f.before) for f in drift[0].fields] == [
        ("options.api_version", "x"),
        ("secrets.api_key.value", m.changed_outside_marker(secret.masked_values["api_key"])),
    ]
    gateway.apply(drift)
    assert gateway.plan(desired) == []


def test_a_value_not_handed_over_is_named_before_anything_is_written(gateway: Gateway) -> None:
    desired = gateway.desired(
        ("gpt-4o",), API_BASE, {"api_key": key("a"), "backup_keys[0]": key("b")}
    )
    changes = gateway.plan(desired)
    gateway.apply(changes[:2])
    gateway.values = {ref: v for ref, v in gateway.values.items() if ref.name == "KEY_0"}
    with pytest.raises(StoreError, match=r"the value of backup_keys\[0\] was not handed"):
        gateway.apply(changes[2:])
    assert gateway.client.list_secrets(gateway.workspace) == ()
