"""How long `llmform validate` takes on a large desired state, beside the floor.

Generates N configs spread over F files and N/50 workspaces (every vendor of the built-in
catalog, Vault and env references, backup keys, custom models, workspace defaults) in a
temporary directory, then prints the best of a few in-process runs of ``validate_paths`` beside
the floor: reading the same files and parsing them with PyYAML's C loader and nothing else.

    python benchmarks/validate.py                 # 10,000 configs in 100 files
    python benchmarks/validate.py --configs 50000 --files 500
    python benchmarks/validate.py --smoke         # 500 configs, one run: proves it works

Exits 1 if the generated state does not validate cleanly (the figure would then be of the
error path, not of the work a user waits for).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from llmform.catalog import builtin_factories
from llmform.desired.validate import validate_paths

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


def best_of(runs: int, work: Callable[[], object]) -> tuple[float, float]:
    """The best wall-clock and the best CPU time of ``runs`` runs. CPU time is the steadier
    figure on a shared machine, where other processes stretch the wall clock."""
    wall = cpu = float("inf")
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        work()
        wall = min(wall, time.perf_counter() - start)
        cpu = min(cpu, time.process_time() - start_cpu)
    return wall, cpu


def floor(files: list[Path]) -> None:
    for file in files:
        for _ in yaml.load_all(file.read_bytes(), Loader=yaml.CSafeLoader):
            pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", type=int, default=10_000, help="configs to generate")
    parser.add_argument("--files", type=int, default=100, help="files to spread them over")
    parser.add_argument("--runs", type=int, default=5, help="runs of each; the best counts")
    parser.add_argument("--smoke", action="store_true", help="500 configs, one run")
    args = parser.parse_args(argv)
    if args.smoke:
        args.configs, args.files, args.runs = 500, 10, 1
    if not hasattr(yaml, "CSafeLoader"):
        print("PyYAML is built without libyaml: no C loader to compare with", file=sys.stderr)
        return 1

    with tempfile.TemporaryDirectory(prefix="llmform-bench-") as tmp:
        files = generate(Path(tmp), args.configs, args.files)
        builtin_factories()  # load the catalog once, as a long-lived process would
        result = validate_paths([tmp])
        if not result.ok or result.state is None:
            for diagnostic in result.diagnostics[:20]:
                print(diagnostic, file=sys.stderr)
            print("the generated state does not validate", file=sys.stderr)
            return 1
        state = result.state
        if len(state.configs) != args.configs:
            print(f"expected {args.configs} configs, got {len(state.configs)}", file=sys.stderr)
            return 1
        floor_wall, floor_cpu = best_of(args.runs, lambda: floor(files))
        wall, cpu = best_of(args.runs, lambda: validate_paths([tmp]))

    print(
        f"{len(state.configs)} configs, {len(state.workspaces)} workspaces, "
        f"{len(state.factories)} factories in {len(files)} files; best of {args.runs} run(s)"
    )
    print(
        f"floor (read + yaml.load_all, CSafeLoader): {floor_wall:7.3f} s  (cpu {floor_cpu:.3f} s)"
    )
    print(
        f"llmform validate_paths:                   {wall:7.3f} s  (cpu {cpu:.3f} s)"
        f"  {wall / floor_wall:.2f}x the floor"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
