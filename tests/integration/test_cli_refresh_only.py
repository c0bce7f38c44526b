"""``llmform plan --refresh-only`` through the CLI on a real SQLite registry: the registry keeps
llmform's state itself, so it has no drift to report, says so in every format and exits 0 with
``--detailed-exitcode``, reading no configuration and creating nothing; PATHS and ``-o`` are
refused (a refresh-only plan reads no configuration and has nothing to apply), with a document
in markdown and json. Drift itself is tested against the real MLflow server
(``tests/integration/mlflow/test_mlflow_drift.py``) and in memory (``tests/unit/test_drift.py``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.stores import cli

YAML = """\
apiVersion: llmform/v1
workspaces:
  - name: prod
configs:
  - name: main
    workspace: prod
    factory: OpenAI
    api_key: {env: RO_KEY}
    models: [gpt-4o]
"""


@pytest.fixture()
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LLMFORM_STORE", "sqlite:///store.db")
    for name in ("LLMFORM_STATE", "VAULT_ADDR", "VAULT_TOKEN", "RO_KEY"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "llmform.yaml").write_text(YAML, encoding="utf-8")
    return tmp_path


NOTE = (
    "No drift to report: sqlite:///store.db keeps llmform's state itself, in the same "
    "transaction as its resources, so what it holds is what llmform last applied; llmform plan "
    "compares it with the configuration"
)


def test_the_registry_has_no_drift_in_any_format(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, err = cli(capsys, "plan", "--refresh-only", "--detailed-exitcode")
    assert code == 0, out + err
    assert out == f"Warning: {NOTE}\n\nNo drift. The target holds what llmform last applied.\n"
    assert not (repo / "store.db").exists()  # nothing created

    monkeypatch.setenv("RO_KEY", "sk-ro-0123456789abcdef")
    code, out, err = cli(capsys, "apply", "--auto-approve", "--no-validate-keys")
    assert code == 0, out + err
    monkeypatch.delenv("RO_KEY")  # a refresh-only plan reads no secret
    before = (repo / "store.db").read_bytes()
    code, out, err = cli(capsys, "plan", "--refresh-only", "--detailed-exitcode", "-w", "prod")
    assert code == 0 and out.endswith("No drift. The target holds what llmform last applied.\n")
    code, out, err = cli(capsys, "plan", "--refresh-only", "--format", "json")
    data = json.loads(out)
    assert (data["refresh_only"], data["drift"], data["changes"]) == (True, [], [])
    assert data["warnings"] == [NOTE] and data["errors"] == []
    code, out, err = cli(capsys, "plan", "--refresh-only", "--format", "markdown")
    assert out.startswith("### llmform plan (refresh-only)\n\n**No drift. The target holds")
    assert (repo / "store.db").read_bytes() == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["llmform.yaml"], "--refresh-only reads no configuration"),
        (["-o", "drift.plan"], "--refresh-only plans cannot be saved with -o"),
    ],
)
def test_paths_and_saving_are_refused(
    repo: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, out, err = cli(capsys, "plan", "--refresh-only", *args)
    assert code == 1 and out == "" and message in err, out + err
    code, out, err = cli(capsys, "plan", "--refresh-only", "--format", "json", *args)
    assert code == 1 and message in json.loads(out)["errors"][0]["message"], out
    assert sorted(p.name for p in repo.iterdir()) == ["llmform.yaml"]
