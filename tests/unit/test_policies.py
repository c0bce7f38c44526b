"""Policies on real states: the ready-made examples on examples/multi-workspace (and the
violation they are there to catch), and the judge's shortcuts agreeing with the plain way."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import cel
import pytest

from llmform.catalog import builtin_factories
from llmform.cli import main
from llmform.desired.model import DesiredState
from llmform.desired.policy_judge import evaluate
from llmform.desired.policy_model import Verdict
from llmform.desired.policy_objects import config_view, factory_view, workspace_view
from llmform.desired.policy_rules import Rule, compile_rule, reason
from llmform.desired.validate import validate_paths

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
PROD = "examples/multi-workspace/configs/prod.yaml"
VAULT_FIX = 'read this key from Vault: {vault: "secret/llm/prod/NAME#api_key"}'
BACKUP_FIX = 'add a backup key: backup_keys: [{vault: "secret/llm/prod/NAME#backup_1"}]'


def test_example_policies_judge_the_multi_workspace_example(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every ready-made policy runs on the example; the break-glass key from the environment
    is the soft failure an override is for, two configs without a backup key are advisory."""
    monkeypatch.chdir(REPO)
    code = main(["--no-color", "validate", "examples/multi-workspace", "examples/policies"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert err.splitlines() == [
        f"{PROD}:7:5: warning: config.prod/openai-main: policy 'vault-keys-in-production' "
        f"(soft) failed: {VAULT_FIX}; plan and apply fail unless run with --override-policy "
        "vault-keys-in-production --reason TEXT",
        f"{PROD}:39:5: warning: config.prod/bedrock: policy 'backup-key-in-production' "
        f"(advisory) failed: {BACKUP_FIX}",
        f"{PROD}:51:5: warning: config.prod/internal: policy 'backup-key-in-production' "
        f"(advisory) failed: {BACKUP_FIX}",
        "Valid: 11 file(s), 12 factories, 3 workspaces, 14 configs, 6 policies, 3 warning(s)",
    ]


def test_example_policies_catch_a_planted_violation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(EXAMPLES / "multi-workspace", tmp_path / "state")
    shutil.copytree(EXAMPLES / "policies", tmp_path / "policies")
    planted = tmp_path / "state" / "configs" / "planted.yaml"
    planted.write_text(
        "apiVersion: llmform/v1\n"
        "configs:\n"
        "  - name: cheap-chat\n"
        "    workspace: prod\n"
        "    factory: DeepSeek\n"
        '    api_key: {vault: "secret/llm/prod/deepseek#api_key"}\n'
        '    backup_keys: [{vault: "secret/llm/prod/deepseek#backup_1"}]\n'
        "  - name: long-context\n"
        "    workspace: staging\n"
        "    factory: Bailian\n"
        '    api_key: {vault: "secret/llm/staging/dashscope#api_key"}\n'
        "    models: [qwen-long]\n",
        "utf-8",
    )
    monkeypatch.chdir(tmp_path)
    code = main(["--no-color", "validate", "state", "policies"])
    errors = [line for line in capsys.readouterr().err.splitlines() if ": error: " in line]
    assert code == 1
    assert errors == [
        "state/configs/planted.yaml:3:5: error: config.prod/cheap-chat: policy "
        "'approved-vendors-in-production' (hard) failed: production may use only OpenAI, "
        "Anthropic, Azure OpenAI, Bedrock and the internal vLLM; ask the platform team to "
        "approve another vendor",
        "state/configs/planted.yaml:8:5: error: config.staging/long-context: policy "
        "'model-class-in-staging' (hard) failed: staging models are limited to a context of a "
        "million tokens; use a smaller model",
    ]


def _plainly(rules: list[Rule], state: DesiredState) -> set[tuple[str, str, Verdict, str]]:
    """Every rule on the whole of every object it selects, one by one: what the judge's
    shortcuts (projected fields, kept verdicts, shared contexts) must agree with."""
    found = set()
    for rule in rules:
        policy = rule.policy
        for config in state.configs.values():
            workspace = state.workspaces[config.workspace]
            if policy.kind != "config" or not policy.selects(workspace):
                continue
            factory = state.factories.get(config.factory)
            variables = {
                "object": config_view(config, factory),
                "workspace": workspace_view(workspace),
                "factory": None if factory is None else factory_view(factory),
            }
            try:
                result = rule.program.execute(variables)
            except Exception as exc:
                found.add((policy.name, config.address, Verdict.ERROR, reason(exc)))
                continue
            if result is not True:
                found.add((policy.name, config.address, Verdict.FAIL, policy.message))
    return found


def test_the_judge_agrees_with_evaluating_every_object_whole(tmp_path: Path) -> None:
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import validate as bench  # type: ignore[import-not-found]
    finally:
        sys.path.pop(0)
    bench.generate(tmp_path, 300, 6)
    (tmp_path / "policies.yaml").write_text(
        "apiVersion: llmform/v1\npolicies:\n"
        + "".join(
            f"  - {{name: p{n}, applies_to: {{kind: config}}, rule: '{rule}', message: m{n}, "
            "level: hard}\n"
            for n, rule in enumerate(
                [
                    "object.keys.all(k, has(k.vault))",  # fails on env keys
                    'factory.name != "Gemini" && object.enabled',
                    'workspace.labels.tier == "t1" || size(object.models) > 2',
                    "object.models.all(m, m.max_tokens < 100000)",
                    'object.api_base.startsWith("https://")',  # null for some: errors
                    'object["name"].endsWith("7")',  # read whole
                    'object.options.region == "us-east-1"',  # missing key: errors
                    "object.backup_keys[1].env != null",
                ]
            )
        ),
        "utf-8",
    )
    result = validate_paths([str(tmp_path)], judge=False)
    assert result.state is not None, result.diagnostics[:3]
    state = result.state
    compiled = [compile_rule(policy, "rule") for policy in state.policies.values()]
    rules = [rule for rule in compiled if isinstance(rule, Rule)]
    assert len(rules) == 8
    evaluation = evaluate(rules, state)
    judged = {(o.policy, o.address, o.verdict, o.message) for o in evaluation.outcomes}
    assert judged == _plainly(rules, state)
    assert {o.policy for o in evaluation.outcomes} == {f"p{n}" for n in range(8)}
    assert all(count == 300 for count in evaluation.judged.values())


def test_a_rule_sees_references_and_no_secret_value(monkeypatch: pytest.MonkeyPatch) -> None:
    """A rule is handed the reference ({env: NAME}), never what the environment holds."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-CANARY-policies-0001")
    state = validate_paths([str(EXAMPLES / "quickstart")], judge=False).state
    assert state is not None
    view = config_view(state.configs[("dev", "openai")], builtin_factories()["OpenAI"])
    assert view["api_key"] == {"env": "OPENAI_API_KEY"}
    assert "sk-CANARY" not in repr(view)
    assert cel.compile("object.api_key").execute({"object": view}) == {"env": "OPENAI_API_KEY"}
