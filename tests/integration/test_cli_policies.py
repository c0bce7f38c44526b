"""Policies through the CLI on a real SQLite store: a hard failure refused by plan and apply
(nothing written), a soft one refused until overridden with a reason, the override in the audit
trail (who, why, which objects) and the chain still verifying, a saved plan carrying its verdicts
under its MAC, and no secret value in anything a policy run prints or keeps.

Keys are not checked here (--no-validate-keys): policies are decided on the desired state, before
any key matters."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.cli import run

CANARY = "sk-CANARY-policy-0123456789abcdef"
STATE = """\
apiVersion: llmform/v1
workspaces:
  - name: prod
    labels: {tier: production}
configs:
  - name: main
    workspace: prod
    factory: OpenAI
    api_key: {env: LLMFORM_POLICY_KEY}
    models: [gpt-4o]
policies:
  - name: vault-keys
    applies_to: {kind: config, labels: {tier: production}}
    rule: object.keys.all(k, has(k.vault))
    message: production keys come from Vault
    level: LEVEL
"""
NO_KEYS = "--no-validate-keys"


@pytest.fixture()
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LLMFORM_POLICY_KEY", CANARY)
    monkeypatch.setenv("LLMFORM_STORE", f"sqlite:///{tmp_path / 'store.db'}")
    monkeypatch.setenv("GITHUB_ACTOR", "alice")
    return tmp_path


def state(repo: Path, level: str) -> None:
    (repo / "llmform.yaml").write_text(STATE.replace("LEVEL", level), "utf-8")


def no_canary(*outputs: str) -> None:
    for output in outputs:
        assert CANARY not in output


def test_a_hard_failure_is_refused_by_plan_and_apply_in_every_format(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state(repo, "hard")
    code, out, err = run(capsys, "plan", NO_KEYS, "llmform.yaml")
    assert code == 1
    assert "  FAILED     vault-keys (hard) config.prod/main: production keys come from Vault" in out
    assert err.startswith("error: 1 policy failure(s) block this plan; the plan cannot be applied:")
    assert "  vault-keys (hard): config.prod/main; fix the configuration\n" in err
    code, out, _ = run(capsys, "plan", NO_KEYS, "--format", "json", "llmform.yaml")
    data = json.loads(out)
    assert code == 1
    assert data["policies"] == [
        {
            "rule": "vault-keys",
            "object": "config.prod/main",
            "level": "hard",
            "verdict": "fail",
            "message": "production keys come from Vault",
            "overridden": False,
            "blocking": True,
        }
    ]
    assert {
        "address": "config.prod/main",
        "message": "policy vault-keys (hard) failed: production keys come from Vault",
    } in data["errors"]
    code, md, _ = run(capsys, "plan", NO_KEYS, "--format", "markdown", "llmform.yaml")
    assert "**Policy checks** (1 policy: 1 failed)" in md
    assert (
        "| ❌ failed | `vault-keys` | hard | `config.prod/main` | production keys come from Vault |"
        in md
    )
    code, out, err = run(
        capsys,
        "apply",
        "--auto-approve",
        NO_KEYS,
        "--override-policy",
        "vault-keys",
        "--reason",
        "please",
        "llmform.yaml",
    )
    assert code == 1
    assert "--override-policy vault-keys: the policy is hard; it cannot be overridden" in err
    code, out, err = run(capsys, "apply", "--auto-approve", NO_KEYS, "llmform.yaml")
    assert code == 1
    assert "block this plan; nothing was applied" in err
    assert not (repo / "store.db").exists()  # refused before the store was created
    no_canary(out, err, md)


def test_a_soft_failure_passes_only_overridden_with_a_reason_and_is_audited(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state(repo, "soft")
    code, _, err = run(capsys, "apply", "--auto-approve", NO_KEYS, "llmform.yaml")
    assert (
        code == 1
        and "vault-keys (soft): config.prod/main; fix the configuration, or "
        "override with --override-policy vault-keys --reason TEXT"
        in err
    )
    code, _, err = run(
        capsys,
        "apply",
        "--auto-approve",
        NO_KEYS,
        "--override-policy",
        "vault-keys",
        "llmform.yaml",
    )
    assert code == 1 and "say why with --reason TEXT" in err
    code, _, err = run(capsys, "plan", NO_KEYS, "--reason", "why", "llmform.yaml")
    assert code == 1 and "--reason goes with --override-policy NAME" in err
    pasted = "sk-proj-" + "Zq3vX9" * 5  # a key pasted into the reason, by plan or apply
    for command in ("plan", "apply"):
        code, out, err = run(
            capsys,
            command,
            NO_KEYS,
            "--override-policy",
            "vault-keys",
            "--reason",
            f"ticket 42: {pasted}",
            "llmform.yaml",
        )
        assert code == 1 and "--reason holds what looks like an API key (not shown)" in err
        assert "Zq3vX9" not in out + err
    assert not (repo / "store.db").exists()

    code, out, err = run(
        capsys,
        "apply",
        "--auto-approve",
        NO_KEYS,
        "--override-policy",
        "vault-keys",
        "--reason",
        "break-glass key for INC-4711",
        "llmform.yaml",
    )
    assert code == 0, err
    assert "  OVERRIDDEN vault-keys (soft) config.prod/main: production keys come from Vault" in out
    assert "  Override of vault-keys: break-glass key for INC-4711 (1 object(s))" in out
    code, listed, _ = run(capsys, "audit", "--json")
    events = [json.loads(line) for line in listed.splitlines()]
    assert [e["action"] for e in events] == [
        "apply-start",
        "policy-override",
        "create",
        "create",
        "create",
        "create",  # the policy itself, now in force in the store
        "apply-end",
    ]
    override = events[1]
    assert (override["address"], override["fields"], override["result"], override["actor"]) == (
        "policy.vault-keys",
        ["config.prod/main"],
        "overridden: break-glass key for INC-4711",
        "ci:alice",
    )
    code, verified, err = run(capsys, "audit", "--verify")
    assert code == 0, verified + err
    no_canary(out, listed, verified, (repo / "store.db").read_bytes().decode("latin-1"))


def test_a_saved_plan_records_its_verdicts_under_its_mac(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state(repo, "soft")
    assert run(capsys, "init")[0] == 0
    code, _, err = run(capsys, "plan", NO_KEYS, "-o", "p.plan", "llmform.yaml")
    assert code == 1 and not (repo / "p.plan").exists()  # a blocked plan is not saved
    code, _, err = run(
        capsys,
        "plan",
        NO_KEYS,
        "-o",
        "p.plan",
        "--override-policy",
        "vault-keys",
        "--reason",
        "break-glass",
        "llmform.yaml",
    )
    assert code == 0, err
    text = (repo / "p.plan").read_text("utf-8")
    assert '"policy_overrides"' in text and "break-glass" in text
    no_canary(text)

    # the override taken out of the file: the MAC no longer matches, apply refuses
    tampered = text.replace('"overridden": true', '"overridden": false')
    assert tampered != text
    (repo / "tampered.plan").write_text(tampered, "utf-8")
    code, _, err = run(capsys, "apply", NO_KEYS, "tampered.plan")
    assert code == 1 and "modified" in err

    code, _, err = run(capsys, "apply", NO_KEYS, "p.plan")
    assert code == 0, err
    code, listed, _ = run(capsys, "audit", "--json")
    actions = [json.loads(line)["action"] for line in listed.splitlines()]
    assert actions[:2] == ["apply-start", "policy-override"]
    code, _, err = run(
        capsys, "apply", NO_KEYS, "--override-policy", "vault-keys", "--reason", "x", "p.plan"
    )
    assert code == 1 and "the plan records its verdicts and overrides" in err


STORED = """\
apiVersion: llmform/v1
workspaces:
  - name: prod
    labels: {tier: production}
configs:
  - name: main
    workspace: prod
    factory: OpenAI
    api_key: {env: LLMFORM_POLICY_KEY}
    models: [gpt-4o]
policies:
  - name: openai-only
    applies_to: {kind: config, labels: {tier: production}}
    rule: factory.name == "OpenAI"
    message: production uses OpenAI
    level: hard
"""
VIOLATION = """\
  - name: cheap
    workspace: prod
    factory: DeepSeek
    api_key: {env: LLMFORM_POLICY_KEY}
"""


def test_policies_are_stored_and_the_ones_in_force_judge_a_change_to_themselves(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / "llmform.yaml").write_text(STORED, "utf-8")
    code, out, err = run(capsys, "apply", "--auto-approve", NO_KEYS, "llmform.yaml")
    assert code == 0, err
    assert "  + policy.openai-only {" in out
    code, out, _ = run(capsys, "plan", NO_KEYS, "--detailed-exitcode", "llmform.yaml")
    assert (code, out.splitlines()[-1]) == (0, "No changes. The store matches the configuration.")
    code, exported, _ = run(capsys, "export")
    assert "policies:\n- name: openai-only\n" in exported

    # the same change weakens the policy to advisory and adds what it forbids: refused
    weakened = STORED.replace("level: hard", "level: advisory").replace(
        "policies:", VIOLATION + "policies:"
    )
    (repo / "llmform.yaml").write_text(weakened, "utf-8")
    before = (repo / "store.db").read_bytes()
    code, out, err = run(capsys, "plan", NO_KEYS, "llmform.yaml")
    assert code == 1
    assert '      ~ level = "hard" -> "advisory"' in out  # the policy change, shown as one
    assert (
        "  FAILED     openai-only (in force) (hard) config.prod/cheap: production uses OpenAI"
        in out
    )
    assert "  WARNING    openai-only (advisory) config.prod/cheap" in out
    code, _, err = run(capsys, "apply", "--auto-approve", NO_KEYS, "llmform.yaml")
    assert code == 1 and "openai-only (in force) (hard): config.prod/cheap" in err
    # deleting it in the same change does not help either, nor overriding the hard version
    deleted = STORED.split("policies:")[0].replace("configs:\n", "configs:\n" + VIOLATION)
    (repo / "llmform.yaml").write_text(deleted, "utf-8")
    code, out, err = run(capsys, "apply", "--auto-approve", NO_KEYS, "llmform.yaml")
    assert code == 1 and "  - policy.openai-only" in out
    code, _, err = run(
        capsys,
        "apply",
        "--auto-approve",
        NO_KEYS,
        "--override-policy",
        "openai-only",
        "--reason",
        "sneaky",
        "llmform.yaml",
    )
    assert code == 1 and "the policy is hard; it cannot be overridden" in err
    assert (repo / "store.db").read_bytes() == before

    # dropping the policy alone is a change like any other; then the config may come
    (repo / "llmform.yaml").write_text(STORED.split("policies:")[0], "utf-8")
    assert run(capsys, "apply", "--auto-approve", NO_KEYS, "llmform.yaml")[0] == 0
    (repo / "llmform.yaml").write_text(deleted, "utf-8")
    assert run(capsys, "apply", "--auto-approve", NO_KEYS, "llmform.yaml")[0] == 0


def test_policy_path_takes_precedence_and_policy_check_judges_the_store(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / "llmform.yaml").write_text(STORED.split("policies:")[0], "utf-8")
    assert run(capsys, "apply", "--auto-approve", NO_KEYS, "llmform.yaml")[0] == 0
    org = repo / "org"
    org.mkdir()
    (org / "policies.yaml").write_text(
        STATE.split("policies:")[0].split("workspaces:")[0]
        + "policies:"
        + STATE.split("policies:")[1].replace("LEVEL", "advisory"),
        "utf-8",
    )
    # a new policy rolled out advisory first: policy check lists what breaks it, exit 0
    code, out, err = run(capsys, "policy", "check", "--policy", "org")
    assert code == 0, err
    assert out.splitlines()[1:] == [
        "Policy checks (1 policy: 1 warning(s)):",
        "  WARNING    vault-keys (advisory) config.prod/main: production keys come from Vault",
    ]
    code, out, _ = run(capsys, "policy", "check", "--policy", "org", "--format", "json")
    assert json.loads(out)["policies"][0]["verdict"] == "fail"
    (org / "policies.yaml").write_text(
        (org / "policies.yaml").read_text().replace("advisory", "hard")
    )
    code, _, err = run(capsys, "policy", "check", "--policy", "org")
    assert code == 1 and "the store does not satisfy its policies" in err
    code, _, err = run(capsys, "policy", "check")
    assert code == 1 and "holds none and no --policy PATH was given" in err

    # --policy over the scanned files' policy of the same name (which says advisory)
    state(repo, "advisory")
    code, out, err = run(capsys, "plan", NO_KEYS, "--policy", "org", "llmform.yaml")
    assert code == 1
    assert "policy 'vault-keys' is also given by --policy, which takes precedence" in err
    assert "  FAILED     vault-keys (hard) config.prod/main" in out
    (org / "extra.yaml").write_text(STORED, "utf-8")
    code, _, err = run(capsys, "plan", NO_KEYS, "--policy", "org", "llmform.yaml")
    assert code == 1 and "holds 1 workspace(s), 1 config(s) besides policies" in err
