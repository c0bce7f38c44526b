"""How long `llmform validate` takes on a large desired state, beside the floor, with CPU time
and peak memory.

Generates N configs spread over F files and N/50 workspaces (every vendor of the built-in
catalog, Vault and env references, backup keys, custom models, workspace defaults), cached
under the temporary directory (``llmform-bench-cache/``) for later runs of the same size. Then
it runs, in turn and each a process of its own (medians of ``--runs``, after one run of each
not counted): ``llmform validate`` of the folder (start-up and the built-in catalog included;
cold, with an empty cache of parsed files each run, and warm, every file from the cache), and
the floor, a Python process that reads the same files and parses them with PyYAML's C loader
and nothing else (the collector off, as llmform runs).

    python benchmarks/validate.py                 # 10,000 configs in 100 files
    python benchmarks/validate.py --configs 100000 --files 1000 --runs 3
    python benchmarks/validate.py --policies 20   # and 20 policies, most on every config
    python benchmarks/validate.py --smoke         # 500 configs, one run: proves it works

Exits 1 if the generated state does not validate cleanly (the figure would then be of the
error path, not of the work a user waits for).
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

import yaml
from measure import (
    CACHE_ENV,
    cached_tree,
    compiled_env,
    interleaved,
    llmform_command,
    run_child,
    source_digest,
)

CONFIGS_PER_WORKSPACE = 50
SCHEMA_COMMENT = "# yaml-language-server: $schema=llmform.schema.json\n"

# (factory, extra config lines, chat model, embedding model or None); all from the catalog.
VENDORS: list[tuple[str, list[str], str, str | None]] = [
    ("OpenAI", [], "gpt-4o", "text-embedding-3-small"),
    ("Anthropic", [], "claude-sonnet-4-5-20250929", None),
    ("Gemini", [], "gemini-2.5-flash", "gemini-embedding-001"),
    ("DeepSeek", [], "deepseek-chat", None),
    ("Bailian", [], "qwen-plus", "text-embedding-v4"),
    ("SILICONFLOW", [], "Qwen/Qwen3-32B", "BAAI/bge-m3"),
    (
        "Azure-OpenAI",
        ["api_base: https://contoso-{ws}.openai.azure.com", 'api_version: "2024-10-21"'],
        "gpt-4o",
        "text-embedding-3-large",
    ),
    (
        "Bedrock",
        [
            "api_base: https://bedrock-runtime.us-east-1.amazonaws.com",
            "region: us-east-1",
            'api_secret: {vault: "secret/llm/{ws}/aws#secret_access_key"}',
        ],
        "amazon.nova-pro-v1:0",
        "amazon.titan-embed-text-v2:0",
    ),
    ("Ollama", ["api_base: http://127.0.0.1:11434"], "llama3.2", "nomic-embed-text"),
]


def _config(ws: str, index: int) -> list[str]:
    factory, extra, chat, embedding = VENDORS[index % len(VENDORS)]
    models = [chat] + ([embedding] if embedding else [])
    lines = [
        f"  - name: c{index:05d}",
        f"    workspace: {ws}",
        f"    factory: {factory}",
        f"    description: generated config {index} of workspace {ws}",
        *(f"    {line.replace('{ws}', ws)}" for line in extra),
    ]
    if index % 2:
        lines.append(f'    api_key: {{vault: "secret/llm/{ws}/{factory.lower()}#api_key"}}')
        lines.append("    backup_keys:")
        lines.append(f'      - {{vault: "secret/llm/{ws}/{factory.lower()}#backup", version: 2}}')
        lines.append(f"      - {{env: {factory.upper().replace('-', '_')}_BACKUP_KEY}}")
    else:
        lines.append(f"    api_key: {{env: {factory.upper().replace('-', '_')}_API_KEY}}")
    lines.append("    models:")
    lines.extend(f"      - {model}" for model in models)
    if index % 5 == 0:
        lines.append(f"      - {{name: custom-{index}, type: chat, max_tokens: 32768}}")
    if index % 7 == 0:
        lines.append("    enabled: false")
    return lines


def generate(root: Path, configs: int, files: int) -> list[Path]:
    """Write ``configs`` configs over ``files`` files; returns the files."""
    workspaces = max(1, -(-configs // CONFIGS_PER_WORKSPACE))
    files = max(1, min(files, configs))
    chunks: list[list[str]] = [[] for _ in range(files)]
    # Workspace w and its configs go to file w % files; configs are dealt round-robin to
    # workspaces so that every workspace exists and the totals are exact.
    by_workspace: dict[int, list[int]] = {w: [] for w in range(workspaces)}
    for index in range(configs):
        by_workspace[index % workspaces].append(index)
    for w, indexes in by_workspace.items():
        ws = f"ws-{w:04d}"
        first, embed = indexes[0], next((i for i in indexes if VENDORS[i % len(VENDORS)][3]), None)
        lines = chunks[w % files]
        lines.append(f"# workspace {ws}")
        lines.append("workspaces:")
        lines.append(f"  - name: {ws}")
        lines.append(f"    labels: {{team: team-{w % 17}, tier: t{w % 3}}}")
        lines.append("    defaults:")
        lines.append(f"      chat: c{first:05d}/{VENDORS[first % len(VENDORS)][2]}")
        if embed is not None:
            lines.append(f"      embedding: c{embed:05d}/{VENDORS[embed % len(VENDORS)][3]}")
        lines.append("configs:")
        for index in indexes:
            lines.extend(_config(ws, index))
        lines.append("---")
    written = []
    for number, lines in enumerate(chunks):
        path = root / f"llm-{number:04d}.yaml"
        # One document per workspace: the sections of a document are single keys.
        documents = "\n".join(lines).split("\n---")
        body = "\n---\n".join(
            f"apiVersion: llmform/v1\n{doc.strip()}\n" for doc in documents if doc.strip()
        )
        path.write_text(SCHEMA_COMMENT + body, encoding="utf-8")
        written.append(path)
    return written


# The floor: the files read and parsed with the C loader, nothing else.
FLOOR_SCRIPT = """\
import gc
import pathlib
import sys

import yaml

gc.disable()  # as llmform runs (collector.py)
for file in sorted(pathlib.Path(sys.argv[1]).glob("*.yaml")):
    for _ in yaml.load_all(file.read_bytes(), Loader=yaml.CSafeLoader):
        pass
"""
SUMMARY = re.compile(r"Valid: (\d+) file\(s\), (\d+) factories, (\d+) workspaces, (\d+) configs")


# Rules as a platform team writes them, every one true on the generated state so that the run
# measures judging, not reporting; {n} makes each copy a distinct rule.
RULES: list[tuple[str, str]] = [
    ("config", "object.keys.all(k, has(k.vault) || has(k.env)) && {n} >= 0"),
    (
        "config",
        'object.api_base == null || object.api_base.startsWith("https://") '
        '|| object.api_base.startsWith("http://127.0.0.1") || {n} < 0',
    ),
    ("config", "object.models.all(m, m.max_tokens == null || m.max_tokens <= 2000000 + {n})"),
    ("config", f"factory.name in {[v[0] for v in VENDORS]!r} || {{n}} < 0".replace("'", '"')),
    ("config", 'workspace.labels.team.startsWith("team-") && {n} >= 0'),
    ("config", "size(object.models) >= 1 && {n} >= 0"),
    ("config", 'object.name != "" && size(object.backup_keys) >= 0 && {n} >= 0'),
    ("config", "!object.enabled || size(object.keys) >= 1 + {n} - {n}"),
    ("workspace", 'has(object.labels.team) && object.name.startsWith("ws-") && {n} >= 0'),
    ("factory", "size(object.models) > {n} - 1000"),
]


def policies(count: int) -> str:
    """A document of ``count`` policies (hard, so a failure would fail the run)."""
    lines = ["apiVersion: llmform/v1", "policies:"]
    for number in range(count):
        kind, rule = RULES[number % len(RULES)]
        lines += [
            f"  - name: rule-{number:03d}",
            f"    applies_to: {{kind: {kind}}}",
            f"    rule: '{rule.replace('{n}', str(number))}'",
            "    message: generated",
            "    level: hard",
        ]
    return "\n".join(lines) + "\n"


def cached_state(configs: int, files: int) -> Path:
    """The generated files, made once per size (and per version of the generator)."""
    name = f"validate-{configs}c-{files}f-{source_digest(generate, _config)}"

    def build(folder: Path) -> None:
        generate(folder, configs, files)

    return cached_tree(name, build)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", type=int, default=10_000, help="configs to generate")
    parser.add_argument("--files", type=int, default=100, help="files to spread them over")
    parser.add_argument("--runs", type=int, default=5, help="runs of each; medians count")
    parser.add_argument("--smoke", action="store_true", help="500 configs, one run")
    parser.add_argument("--policies", type=int, default=0, help="policies to add (and time)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.configs, args.files, args.runs = 500, 10, 1
    if not hasattr(yaml, "CSafeLoader"):
        print("PyYAML is built without libyaml: no C loader to compare with", file=sys.stderr)
        return 1

    state = cached_state(args.configs, args.files)
    with tempfile.TemporaryDirectory(prefix="llmform-bench-") as tmp:
        root = Path(tmp)
        (root / "floor.py").write_text(FLOOR_SCRIPT)
        sides = {
            "floor": [sys.executable, str(root / "floor.py"), str(state)],
            "validate": [*llmform_command(root), "validate", str(state)],
        }
        if args.policies:
            # in a folder of their own, so that validate without them is the same state
            (root / "policies").mkdir()
            (root / "policies" / "policies.yaml").write_text(policies(args.policies))
            sides["policies"] = [
                *llmform_command(root),
                "validate",
                str(state),
                str(root / "policies"),
            ]
        # validate runs cold (an empty cache of parsed files each run); "warm" with the cache
        # its warm-up run filled
        sides["warm"] = sides["validate"]
        env = compiled_env(root / "pycache") | {CACHE_ENV: str(root / "cache")}
        run_child(sides["warm"], env)  # notes the files; the warm-up run keeps them
        figures = interleaved(sides, args.runs, env, cold=("validate", "policies"))
    floor, validate = figures["floor"], figures["validate"]
    found = SUMMARY.search(validate.samples[-1].stderr)
    if found is None:
        print(validate.samples[-1].stderr, file=sys.stderr)
        print("the generated state does not validate", file=sys.stderr)
        return 1
    files, factories, workspaces, configs = (int(n) for n in found.groups())
    if configs != args.configs:
        print(f"expected {args.configs} configs, got {configs}", file=sys.stderr)
        return 1
    width = 42
    print(
        f"{configs} configs, {workspaces} workspaces, {factories} factories in {files} files; "
        f"medians of {args.runs} run(s) in turn, each a process of its own"
    )
    print(floor.line("floor (read + yaml.load_all, CSafeLoader):", width))
    print(validate.line("llmform validate (whole process):", width, floor))
    if args.policies:
        judged = figures["policies"]
        if f", {args.policies} policies" not in judged.samples[-1].stderr:
            print(judged.samples[-1].stderr, file=sys.stderr)
            print("the generated state fails its generated policies", file=sys.stderr)
            return 1
        print(
            judged.line(f"with {args.policies} policies:", width, floor)
            + f"  {(judged.wall / validate.wall - 1) * 100:+.0f}% wall, "
            f"{(judged.cpu / validate.cpu - 1) * 100:+.0f}% cpu on validate"
        )
    print(figures["warm"].line("llmform validate, warm cache:", width, floor))
    return 0


if __name__ == "__main__":
    sys.exit(main())
