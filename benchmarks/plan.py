"""How long plan and apply take on a large registry, beside the floor.

Generates N configs (default 10,000) over W workspaces (default 500) in F files, applies them
to a fresh SQLite store (timing the apply of N creates), then times a no-change plan beside
the floor: parsing the same files with PyYAML's C loader plus one read of the store.

    python benchmarks/plan.py
    python benchmarks/plan.py --configs 2000 --workspaces 100
    python benchmarks/plan.py --smoke        # 300 configs, one run: proves it works

Secrets are env references (set in this process), so the figures measure llmform, not Vault.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from llmform.desired.validate import load_state
from llmform.engine.apply import apply_plan
from llmform.engine.plan import make_plan
from llmform.secrets.chain import chain_from_env
from llmform.state.audit import RunInfo
from llmform.targets import OpenMode, open_store

VENDORS = [
    ("OpenAI", "[gpt-4o, text-embedding-3-small]"),
    ("DeepSeek", "[deepseek-chat]"),
    ("Anthropic", "[claude-sonnet-4-5-20250929]"),
    ("Ollama", "[{name: llama3.2, type: chat}]"),
]
DISTINCT_SECRETS = 200


def generate(root: Path, configs: int, workspaces: int, files: int) -> None:
    per_file: list[list[str]] = [[] for _ in range(files)]
    for w in range(workspaces):
        per_file[w % files].append(f"  - name: ws{w:04d}\n    labels: {{team: t{w % 7}}}\n")
    config_lines: list[list[str]] = [[] for _ in range(files)]
    for i in range(configs):
        ws = i % workspaces
        factory, models = VENDORS[i % len(VENDORS)]
        key = (
            ""
            if factory == "Ollama"
            else (
                f"    api_key: {{env: BENCH_KEY_{i % DISTINCT_SECRETS}}}\n"
                f"    backup_keys: [{{env: BENCH_KEY_{(i + 1) % DISTINCT_SECRETS}}}]\n"
            )
        )
        config_lines[ws % files].append(
            f"  - name: c{i:05d}\n    workspace: ws{ws:04d}\n    factory: {factory}\n"
            f"{key}    models: {models}\n"
        )
    for n in range(files):
        text = "apiVersion: llmform/v1\nworkspaces:\n" + "".join(per_file[n])
        text += "configs:\n" + "".join(config_lines[n]) if config_lines[n] else ""
        (root / f"part{n:03d}.yaml").write_text(text)
    for s in range(DISTINCT_SECRETS):
        os.environ[f"BENCH_KEY_{s}"] = f"sk-bench-{s:04d}"


def best_of(runs: int, action: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", type=int, default=10_000)
    parser.add_argument("--workspaces", type=int, default=500)
    parser.add_argument("--files", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    if args.smoke:
        args.configs, args.workspaces, args.files, args.runs = 300, 20, 5, 1

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "state").mkdir()
        generate(root / "state", args.configs, args.workspaces, args.files)
        paths = [str(root / "state")]
        store = open_store(f"sqlite:///{root / 'bench.db'}", OpenMode.CREATE)
        resolver = chain_from_env()

        state = load_state(paths)
        creates = make_plan(state, store, resolver)
        run = RunInfo(run_id=creates.plan_id, actor="benchmark", commit=None)
        start = time.perf_counter()
        with store.lock("apply", 5):
            result = apply_plan(creates, store, run)
        apply_time = time.perf_counter() - start

        def no_change_plan() -> None:
            plan = make_plan(load_state(paths), store, resolver)
            assert plan.summary.empty, plan.summary

        def floor() -> None:
            for file in sorted((root / "state").iterdir()):
                yaml.load(file.read_text(), Loader=yaml.CSafeLoader)
            store.read()

        plan_time = best_of(args.runs, no_change_plan)
        floor_time = best_of(args.runs, floor)
        store.close()

    print(f"configs: {args.configs}, workspaces: {args.workspaces}, files: {args.files}")
    print(f"apply of {result.applied} creates: {apply_time:.2f} s")
    print(f"no-change plan: {plan_time:.2f} s")
    print(f"floor (C-loader parse + one store read): {floor_time:.2f} s")
    print(f"plan / floor: {plan_time / floor_time:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
