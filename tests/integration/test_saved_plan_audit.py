"""Applying a saved plan reads of the audit trail only what it needs (issue 14): whether its own
run already started (one query by run id) and the trail's last event (to extend the chain and
print its head), never the whole trail, which grows with every apply. On the registry in SQLite
and PostgreSQL (the state stores: ``test_state_stores``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.audit_reads import refuse_whole_trail
from support.cli import run

STATE = """\
apiVersion: llmform/v1
workspaces:
  - name: prod
configs:
  - name: main
    workspace: prod
    factory: OpenAI
    description: {description}
    api_key: {{env: LLMFORM_TEST_KEY}}
    models: [gpt-4o]
"""
NO_CHECKS = "--no-validate-keys"


def test_a_saved_plan_is_applied_reading_only_its_own_audit_events(
    store_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LLMFORM_STORE", store_url)
    monkeypatch.setenv("LLMFORM_TEST_KEY", "sk-test-audit-reads")
    for description in ("one", "two", "three"):  # a trail of three applies
        (tmp_path / "llmform.yaml").write_text(STATE.format(description=description))
        code, out, err = run(capsys, "apply", "--auto-approve", NO_CHECKS, "llmform.yaml")
        assert code == 0, out + err
    (tmp_path / "llmform.yaml").write_text(STATE.format(description="four"))
    code, out, err = run(capsys, "plan", NO_CHECKS, "-o", "p.plan", "llmform.yaml")
    assert code == 0, out + err
    plan_id = json.loads((tmp_path / "p.plan").read_text())["plan_id"]

    reads = refuse_whole_trail(monkeypatch)
    code, out, err = run(capsys, "apply", NO_CHECKS, "p.plan")
    assert code == 0, out + err
    assert "Apply complete! Resources: 0 added, 1 changed, 0 destroyed." in out
    assert "Audit chain head: 14:sha256:" in out  # 5 events of the creates, 3 per update
    assert (plan_id, False) in reads and (None, True) in reads
    # the same plan again: its own run is found by its id, and refused
    code, out, err = run(capsys, "apply", NO_CHECKS, "p.plan")
    assert code == 1
    assert f"this plan ({plan_id}) was already applied; run llmform plan again" in err
    code, out, err = run(capsys, "show", "p.plan")
    assert code == 0 and f"this plan ({plan_id}) was already applied" in err
