"""How long plan and apply take on a large registry, beside the floor.

Generates N configs (default 10,000) over W workspaces (default 500) in F files, applies them
to a fresh store (timing the apply of N creates), then times a no-change plan beside the floor:
parsing the same files with PyYAML's C loader plus one read of that store.

    python benchmarks/plan.py
    python benchmarks/plan.py --configs 2000 --workspaces 100
    python benchmarks/plan.py --smoke        # 300 configs, one run: proves it works
    python benchmarks/plan.py --store postgresql://user@host/empty_db
    python benchmarks/plan.py --postgres     # a throwaway server (tests/support/postgres.py)

The store is a temporary SQLite file unless ``--store`` names one (it must not hold a registry
yet: the apply is of creates) or ``--postgres`` starts a server of its own with a fresh database.

Secrets are env references (set in this process), so the figures measure llmform, not Vault.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import yaml

from llmform.desired.validate import load_state
from llmform.engine.apply import apply_plan
from llmform.engine.plan import make_plan
from llmform.secrets.chain import chain_from_env
from llmform.state.audit import RunInfo
from llmform.targets import OpenMode, open_store

TEST_SERVER = Path(__file__).resolve().parents[1] / "tests" / "support" / "postgres.py"

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


@contextmanager
def throwaway_postgres() -> Iterator[str]:
    """A fresh database of a server started for this run, as its URL; the server and its files
    go when the run ends. The tests' server module, loaded by path (benchmarks are not shipped)."""
    spec = importlib.util.spec_from_file_location("llmform_test_postgres", TEST_SERVER)
    assert spec is not None and spec.loader is not None, TEST_SERVER
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    with module.running_server() as server:
        yield server.url(server.create_database())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", type=int, default=10_000)
    parser.add_argument("--workspaces", type=int, default=500)
    parser.add_argument("--files", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--smoke", action="store_true")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--store", help="the store's URL (default: a temporary SQLite file)")
    where.add_argument(
        "--postgres", action="store_true", help="start a throwaway PostgreSQL server and use it"
    )
    args = parser.parse_args()
    if args.smoke:
        args.configs, args.workspaces, args.files, args.runs = 300, 20, 5, 1

    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        root = Path(tmp)
        (root / "state").mkdir()
        generate(root / "state", args.configs, args.workspaces, args.files)
        paths = [str(root / "state")]
        url = args.store or f"sqlite:///{root / 'bench.db'}"
        if args.postgres:
            url = stack.enter_context(throwaway_postgres())
        store = open_store(url, OpenMode.CREATE)
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
        store_kind = url.split(":", 1)[0]  # the scheme only: a URL may carry a password

    print(f"store: {store_kind}")
    print(f"configs: {args.configs}, workspaces: {args.workspaces}, files: {args.files}")
    print(f"apply of {result.applied} creates: {apply_time:.2f} s")
    print(f"no-change plan: {plan_time:.2f} s")
    print(f"floor (C-loader parse + one store read): {floor_time:.2f} s")
    print(f"plan / floor: {plan_time / floor_time:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
