"""Apply's second plan, under the lock, reuses the first plan's verdicts (which resources are
unchanged by digest) only when it is a plan of the same desired resources against the same
stored digests: a row edited by hand in between, another scope or other fingerprints make it
compare again, and its plan shows what the first did not."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from support.cli import run
from support.store_db import store_db

from llmform.core.plan import Plan
from llmform.desired.validate import load_state
from llmform.engine import plan_reads
from llmform.engine.backend import Location, open_backend
from llmform.engine.plan import Prepared, plan_prepared, prepare
from llmform.secrets.chain import chain_from_env
from llmform.targets import OpenMode

STATE = """\
apiVersion: llmform/v1
workspaces:
  - name: prod
  - name: staging
configs:
  - {name: main, workspace: prod, factory: OpenAI, api_key: {env: VERDICT_KEY}, models: [gpt-4o]}
  - {name: side, workspace: prod, factory: OpenAI, api_key: {env: VERDICT_KEY}, models: [gpt-4o]}
  - {name: dev, workspace: staging, factory: OpenAI, api_key: {env: VERDICT_KEY}, models: [gpt-4o]}
"""


@pytest.fixture()
def applied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_url: str) -> str:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VERDICT_KEY", "sk-verdict-key")
    monkeypatch.setenv("LLMFORM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("LLMFORM_STORE", store_url)
    Path("llmform.yaml").write_text(STATE)
    return store_url


def changes(plan: Plan) -> list[str]:
    return sorted(f"{c.action} {c.address}" for c in plan.changes)


def two_plans(
    url: str,
    monkeypatch: pytest.MonkeyPatch,
    between: str = "",
    *,
    second_scope: tuple[str, ...] = (),
    other_fingerprints: bool = False,
) -> tuple[list[str], list[str], int]:
    """The changes of two plans with one run's Prepared (as apply makes them), ``between``
    executed on the store between the two; and how often the verdicts were made afresh."""
    made = []
    verdicts = plan_reads._verdicts

    def counted(*args: object) -> object:
        made.append(1)
        return verdicts(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(plan_reads, "_verdicts", counted)
    state = load_state(["llmform.yaml"])
    backend = open_backend(Location(url), OpenMode.READ)
    try:
        prepared = prepare(state, backend, chain_from_env())
        first = plan_prepared(state, backend, prepared)
        if between:
            with store_db(url) as db:
                db.execute(between)
        if other_fingerprints:  # equal values, another mapping: not known to be the same
            secrets = replace(prepared.secrets, fingerprints=dict(prepared.secrets.fingerprints))
            prepared = replace(prepared, secrets=secrets)
        assert isinstance(prepared, Prepared)
        second = plan_prepared(state, backend, prepared, scope=second_scope)
    finally:
        backend.close()
    return changes(first), changes(second), len(made)


def test_the_second_plan_of_a_run_reuses_the_first_plans_verdicts(
    applied: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "apply", "--auto-approve", "--no-validate-keys", "llmform.yaml")[0] == 0
    Path("llmform.yaml").write_text(STATE.replace("name: main,", "name: main, description: x,"))
    first, second, made = two_plans(applied, monkeypatch)
    assert first == second == ["update config.prod/main"]
    assert made == 1


@pytest.mark.parametrize(
    ("between", "scope", "other_fingerprints", "second_shows"),
    [
        (
            "UPDATE configs SET description = 'by hand' WHERE name = 'side'",
            (),
            False,
            ["update config.prod/main", "update config.prod/side"],
        ),
        (
            "DELETE FROM config_secrets WHERE config = 'dev'",
            (),
            False,
            ["update config.prod/main", "update config.staging/dev"],
        ),
        ("", ("prod",), False, ["update config.prod/main"]),
        ("", (), True, ["update config.prod/main"]),
    ],
    ids=[
        "a row edited by hand",
        "a child row deleted by hand",
        "another scope",
        "other fingerprints",
    ],
)
def test_the_verdicts_are_made_again_for_other_digests_or_another_plan(
    applied: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    between: str,
    scope: tuple[str, ...],
    other_fingerprints: bool,
    second_shows: list[str],
) -> None:
    assert run(capsys, "apply", "--auto-approve", "--no-validate-keys", "llmform.yaml")[0] == 0
    Path("llmform.yaml").write_text(STATE.replace("name: main,", "name: main, description: x,"))
    first, second, made = two_plans(
        applied, monkeypatch, between, second_scope=scope, other_fingerprints=other_fingerprints
    )
    assert first == ["update config.prod/main"]
    assert second == second_shows
    assert made == 2
