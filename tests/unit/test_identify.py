"""One decision, everywhere: is a YAML document llmform's, almost llmform's, or another tool's?

Each input is loaded three ways: named on the command line, found in a scanned folder, and
handed over by pre-commit (``--ignore-foreign``). A document that is almost llmform's is an
error in all three; another tool's is an error only when named without --ignore-foreign.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from llmform.desired.loader import load_paths

OURS = "ours"
NEAR = "near miss"
FOREIGN = "foreign"

CASES: dict[str, tuple[str, str]] = {
    # name: (text, verdict)
    "llmform": ("apiVersion: llmform/v1\nworkspaces: [{name: prod}]\n", OURS),
    "key lowercase": ("apiversion: llmform/v1\nworkspaces: [{name: prod}]\n", NEAR),
    "key PascalCase": ("ApiVersion: llmform/v1\n", NEAR),
    "key snake_case": ("api_version: llmform/v1\n", NEAR),
    "key with a space": ('"apiVersion ": llmform/v1\n', NEAR),
    "key typo on shaped document": ("apiVerison: v1\nconfigs: []\nworkspaces: [{name: a}]\n", NEAR),
    "value capital V": ("apiVersion: llmform/V1\n", NEAR),
    "value capitals": ("apiVersion: LLMform/v1\n", NEAR),
    "value v2": ("apiVersion: llmform/v2\n", NEAR),
    "value without v": ("apiVersion: llmform/1\n", NEAR),
    "value with trailing space": ('apiVersion: "llmform/v1 "\n', NEAR),
    "value misspelt": ("apiVersion: llmfrom/v1\n", NEAR),
    "sections without apiVersion": ("workspaces:\n  - name: prod\nconfigs: []\n", NEAR),
    "kubernetes value on llmform sections": ("apiVersion: v1\nworkspaces: [{name: a}]\n", NEAR),
    "our version under version": ("version: llmform/v1\nconfigs: [{name: a}]\n", NEAR),
    "our version under kind": ("kind: llmform/v1\n", NEAR),
    "a near version under another key": ("api: llmform/V1\nworkspaces: [{name: a}]\n", NEAR),
    "singular section without apiVersion": ("config:\n  - {name: a, workspace: p}\n", NEAR),
    "capitalised section without apiVersion": ("Workspaces:\n  - name: prod\n", NEAR),
    "llmform document as a list item": (
        "- apiVersion: llmform/v1\n  workspaces: [{name: prod}]\n",
        NEAR,
    ),
    "kubernetes": ("apiVersion: v1\nkind: ConfigMap\ndata: {configs: x}\n", FOREIGN),
    "kubernetes list": ("apiVersion: v1\nkind: List\nitems: [{kind: Pod}]\n", FOREIGN),
    "docker-compose": ("services: {web: {image: nginx}}\nconfigs:\n  web: {file: a}\n", FOREIGN),
    "docker-compose version": ('version: "3.8"\nservices: {db: {image: postgres}}\n', FOREIGN),
    "github workflow": ("name: ci\non: [push]\njobs: {test: {runs-on: x}}\n", FOREIGN),
    "helm chart": ('apiVersion: v2\nname: web\nversion: 0.1.0\nappVersion: "1.0"\n', FOREIGN),
    "helm chart without apiVersion": ('name: web\nappVersion: "1.0"\n', FOREIGN),
    "helm values with configs": ("replicas: 1\nconfigs: [{name: web}]\n", FOREIGN),
    "another tool's api_version": ("api_version: 2\nendpoint: x\n", FOREIGN),
    "configs of strings": ("configs: [a, b]\n", FOREIGN),
    "a list": ("- name: prod\n", FOREIGN),
    "a list of other documents": ("- apiVersion: v1\n  kind: Pod\n", FOREIGN),
    "compose project named llmform": (
        "name: llmform\nservices: {web: {image: llmform/app}}\nconfigs: {a: {file: x}}\n",
        FOREIGN,
    ),
    "an image named llmform": ("image: llmform/app:1\nreplicas: 2\n", FOREIGN),
    "helm values with a config mapping": ("replicas: 1\nconfig: {a: 1}\n", FOREIGN),
    "another tool's config list": ("config:\n  - {key: a, value: b}\n", FOREIGN),
}


def _write(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "scanned"
    folder.mkdir()
    file = folder / "input.yaml"
    file.write_text(text)
    return file


def _errors(paths: list[str], *, ignore_foreign: bool = False) -> tuple[int, list[str]]:
    result = load_paths(paths, ignore_foreign=ignore_foreign)
    return len(result.documents), [d.message for d in result.diagnostics]


@pytest.mark.parametrize(("text", "verdict"), CASES.values(), ids=CASES.keys())
def test_the_same_verdict_named_scanned_and_from_pre_commit(
    tmp_path: Path, text: str, verdict: str
) -> None:
    file = _write(tmp_path, text)
    named = _errors([str(file)])
    scanned = _errors([str(file.parent)])
    hooked = _errors([str(file)], ignore_foreign=True)
    if verdict == OURS:
        assert named == scanned == hooked == (1, [])
    elif verdict == NEAR:
        assert named[0] == scanned[0] == hooked[0] == 0
        assert len(named[1]) == 1 and named[1] == scanned[1] == hooked[1]
    else:
        assert named[0] == 0 and len(named[1]) == 1  # named: "not an llmform document"
        assert scanned == (0, [scanned[1][0]])  # scanned: passed over, so nothing was found
        assert scanned[1][0].startswith("no llmform document here (1 YAML file(s) scanned")
        assert hooked == (0, [])  # pre-commit: passed over, and no error for finding nothing


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # another tool's template, not YAML at all: passed over even with llmform-like keys
        ("{{- if .Values.enabled }}\nconfigs:\n  - name: {{ .x }}\n{{- end }}\n", []),
        # not YAML, but it says llmform: ours, so the syntax error is reported
        (
            "apiVersion: llmform/v1\nworkspaces: [\n",
            ["invalid YAML: did not find expected node content while parsing a flow node"],
        ),
        # not UTF-8, with llmform's keys, but not ours as far as can be told
        ("configs:\n  - name: caf\udce9\n", []),
        # not UTF-8 and ours
        (
            "apiVersion: llmform/v1\nworkspaces: [{name: caf\udce9}]\n",
            ["not UTF-8 text (byte 0xe9); save as UTF-8"],
        ),
    ],
)
def test_pre_commit_reports_broken_files_only_when_they_are_ours(
    tmp_path: Path, text: str, expected: list[str]
) -> None:
    file = _write(tmp_path, "")
    file.write_bytes(text.encode("utf-8", "surrogateescape"))
    assert _errors([str(file)], ignore_foreign=True)[1] == expected
