"""How a plan reads the registry: never whole. Each step of ``prepare`` that needs the store (the
-w check, which disabled configs' secrets to read, the endpoints applied to it) reads only what
it needs (digests, the rows of some resources, the endpoints), and ``plan_prepared`` reads the
digests and what differs again (under the apply lock that reading must be fresh). On each store
(``store_url``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from llmform.checks.results import CheckReport
from llmform.checks.subjects import CheckTarget
from llmform.desired.validate import load_state
from llmform.engine.apply import apply_plan
from llmform.engine.plan import plan_prepared, prepare
from llmform.secrets.env import EnvResolver
from llmform.state.audit import RunInfo
from llmform.targets import open_store
from llmform.targets.base import OpenMode, Store

ENV = {"READS_KEY": "sk-reads-test-0123456789abcdef", "READS_OLD": "sk-reads-old-0123456789abcd"}


def _state(path: Path, workspace: str, disabled: bool) -> Path:
    path.write_text(
        f"""\
apiVersion: llmform/v1
workspaces:
  - name: {workspace}
configs:
  - name: main
    workspace: {workspace}
    factory: OpenAI
    api_key: {{env: READS_KEY}}
    models: [gpt-4o]
  - name: spare
    workspace: {workspace}
    factory: OpenAI
    enabled: {"false" if disabled else "true"}
    api_key: {{env: READS_OLD}}
    models: [gpt-4o]
""",
        encoding="utf-8",
    )
    return path


def count_reads(store: Store, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every reading of ``store`` from now on, in order: which method, and for ``read_some``
    which addresses."""
    reads: list[str] = []
    for name in ("read", "read_digests", "read_some", "read_endpoints"):
        method = getattr(store, name)

        def counted(*args: Any, _name: str = name, _method: Any = method) -> Any:
            reads.append(f"{_name} {' '.join(sorted(args[0]))}" if _name == "read_some" else _name)
            return _method(*args)

        monkeypatch.setattr(store, name, counted)
    return reads


def _no_checks(targets: Sequence[CheckTarget]) -> CheckReport:
    return CheckReport(())


def test_prepare_reads_the_store_once_for_all_it_needs(
    tmp_path: Path, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    resolver = EnvResolver(ENV)
    old = load_state([str(_state(tmp_path / "old.yaml", "old", disabled=False))])
    store = open_store(store_url, OpenMode.CREATE)
    try:
        plan = plan_prepared(old, store, prepare(old, store, resolver))
        apply_plan(plan, store, RunInfo("reads", "test", None))
    finally:
        store.close()
    # -w names a workspace only the store has; a disabled config has a secret; keys are checked
    new = load_state([str(_state(tmp_path / "new.yaml", "new", disabled=True))])
    store = open_store(store_url, OpenMode.PLAN)
    reads = count_reads(store, monkeypatch)
    try:
        prepared = prepare(new, store, resolver, scope=("new", "old"), check=_no_checks)
        assert reads == ["read_digests", "read_some config.new/spare", "read_endpoints"]
        del reads[:]
        plan_prepared(new, store, prepared, scope=("new",))
        # what differs in the scope: all new here; nothing of workspace old
        assert reads == [
            "read_digests",
            "read_some config.new/main config.new/spare workspace.new",
        ]
    finally:
        store.close()
