"""How long plan and apply take on a large registry, beside the floor, with CPU time and peak
memory.

Generates N configs (default 10,000) over W workspaces (default N/20) in F files (cached under
the temporary directory, ``llmform-bench-cache/``, for later runs of the same size), applies them
to a fresh store with ``llmform apply`` (timing the apply of N creates), then times, each run a
whole ``llmform`` process, taken in turn with the floor's (medians of ``--runs``):

- a no-change plan (text, ``--format json``, ``-o FILE``, ``-w`` one workspace);
- the floor: a process that parses the same files with PyYAML's C loader and reads every row
  of the registry's resource tables with one ``SELECT *`` each, and nothing else (the
  collector off, as llmform runs);
- a plan after one file changed (one config's description, another each run), and the apply
  of one changed config (a different description each run, so that each apply changes exactly
  one config).

The plans run cold: each with an empty cache folder of its own (``LLMFORM_CACHE_DIR``), so
that every file is parsed and built and the caches written, as on a first run. Beside them, a
no-change plan (also with ``-w``) and a plan after one file changed with a warm cache (one that
holds every file but the one just changed, parsed and built, with its configs' digests: a file
is kept when a second run finds it unchanged, so the apply and a plan fill it first); the
applies run with that warm cache too.

Every figure is of a process of its own: nothing one measurement made is alive in another, and
the peak memory (``ru_maxrss``) is that process's.

    python benchmarks/plan.py
    python benchmarks/plan.py --configs 100000 --workspaces 5000 --runs 1
    python benchmarks/plan.py --smoke        # 300 configs, one run: proves it works
    python benchmarks/plan.py --store postgresql://user@host/empty_db
    python benchmarks/plan.py --postgres     # a throwaway server (tests/support/postgres.py)

The store is a temporary SQLite file unless ``--store`` names one (it must not hold a registry
yet: the apply is of creates) or ``--postgres`` starts a server of its own with a fresh database.

Secrets are env references (set in the children's environment), so the figures measure llmform,
not Vault; key checks are off (``benchmarks/checks.py`` measures them).
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from measure import (
    CACHE_ENV,
    Figures,
    Sample,
    cached_tree,
    compiled_env,
    interleaved,
    llmform_command,
    mib,
    run_child,
    source_digest,
)

TEST_SERVER = Path(__file__).resolve().parents[1] / "tests" / "support" / "postgres.py"

VENDORS = [
    ("OpenAI", "[gpt-4o, text-embedding-3-small]"),
    ("DeepSeek", "[deepseek-chat]"),
    ("Anthropic", "[claude-sonnet-4-5-20250929]"),
    ("Ollama", "[{name: llama3.2, type: chat}]"),
]
DISTINCT_SECRETS = 200
SECRETS = {f"BENCH_KEY_{s}": f"sk-bench-{s:04d}" for s in range(DISTINCT_SECRETS)}

# The floor: the C-loader parse of every file and every row of the tables a plan compares.
FLOOR_SCRIPT = """\
import gc
import pathlib
import sys

import yaml

gc.disable()  # as llmform runs (collector.py)
url, folder = sys.argv[1], sys.argv[2]
for file in sorted(pathlib.Path(folder).iterdir()):
    yaml.load(file.read_text(), Loader=yaml.CSafeLoader)
if url.startswith("sqlite:///"):
    import sqlite3

    connection = sqlite3.connect(url[len("sqlite:///"):])
else:
    import psycopg

    connection = psycopg.connect(url)
cursor = connection.cursor()
for table in (
    "factories", "factory_models", "workspaces", "configs", "config_models", "config_secrets"
):
    cursor.execute(f"SELECT * FROM {table}")
    cursor.fetchall()
"""
APPLIED = re.compile(r"Apply complete! Resources: (\d+) added, (\d+) changed, (\d+) destroyed")
FIRST_CONFIG = "  - name: c00000\n"


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


def cached_state(configs: int, workspaces: int, files: int) -> Path:
    """The generated files, made once per size (and per version of ``generate``)."""
    name = f"plan-{configs}c-{workspaces}w-{files}f-{source_digest(generate)}"
    return cached_tree(name, lambda folder: generate(folder, configs, workspaces, files))


def applied(sample: Sample) -> tuple[int, int, int]:
    found = APPLIED.search(sample.stdout)
    if found is None:
        sys.exit(f"the apply printed no summary:\n{sample.stdout}{sample.stderr}")
    add, change, destroy = (int(n) for n in found.groups())
    return add, change, destroy


def with_description(file: Path, original: str, description: str) -> None:
    """``file`` as generated, with the first config described as ``description``."""
    described = f"{FIRST_CONFIG}    description: {description}\n"
    file.write_text(original.replace(FIRST_CONFIG, described))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", type=int, default=10_000)
    parser.add_argument("--workspaces", type=int, help="default: configs / 20")
    parser.add_argument("--files", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3, help="runs of each; medians count")
    parser.add_argument("--smoke", action="store_true")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--store", help="the store's URL (default: a temporary SQLite file)")
    where.add_argument(
        "--postgres", action="store_true", help="start a throwaway PostgreSQL server and use it"
    )
    args = parser.parse_args()
    if args.smoke:
        args.configs, args.workspaces, args.files, args.runs = 300, 20, 5, 1
    workspaces = args.workspaces or max(1, args.configs // 20)
    files = max(1, min(args.files, workspaces))

    with tempfile.TemporaryDirectory(prefix="llmform-bench-") as tmp, ExitStack() as stack:
        root = Path(tmp)
        state = root / "state"  # a copy: the one-change runs edit it
        shutil.copytree(cached_state(args.configs, workspaces, files), state)
        url = args.store or f"sqlite:///{root / 'bench.db'}"
        if args.postgres:
            url = stack.enter_context(throwaway_postgres())
        # the caches of parsed and built files the warm runs share (the apply fills them); others
        # each get an empty one (cold)
        env = compiled_env(root / "pycache") | SECRETS | {CACHE_ENV: str(root / "cache")}
        llmform = [*llmform_command(root), "--store", url]
        floor_script = root / "floor.py"
        floor_script.write_text(FLOOR_SCRIPT)

        apply = [*llmform, "apply", "--auto-approve", "--no-validate-keys", str(state)]
        creates = run_child(apply, env)
        created = applied(creates)[0]
        plan = [*llmform, "plan", "--no-validate-keys"]
        run_child([*plan, str(state)], env)  # the apply noted the files; this run keeps them
        saved = root / "bench.plan"
        no_change = interleaved(
            {
                "floor": [sys.executable, str(floor_script), url, str(state)],
                "plan": [*plan, str(state)],
                "json": [*plan, "--format", "json", str(state)],
                "saved": [*plan, "-o", str(saved), str(state)],
                "workspace": [*plan, "-w", "ws0000", str(state)],
                "warm": [*plan, str(state)],
                "workspace_warm": [*plan, "-w", "ws0000", str(state)],
            },
            args.runs,
            env,
            warm_up=False,  # the apply above compiled what a plan imports
            cold=("plan", "json", "saved", "workspace"),
        )
        saved_size = saved.stat().st_size

        # One file changed: the first config (in the first file) gets a description.
        first = state / "part000.yaml"
        original = first.read_text()
        # another change each run, so that the warm cache holds the file's previous version
        one_change: dict[str, list[Sample]] = {"plan": [], "warm": []}
        for run in range(args.runs):
            with_description(first, original, f"changed {run}")
            cold_env = env | {CACHE_ENV: str(root / f"cold-cache-{run}")}
            for name in ("plan", "warm") if run % 2 == 0 else ("warm", "plan"):
                run_env = cold_env if name == "plan" else env
                one_change[name].append(run_child([*plan, str(state)], run_env))
        applies = []
        for run in range(args.runs):  # a new description each time: one config changed per apply
            with_description(first, original, f"applied change {run}")
            sample = run_child(apply, env)
            if applied(sample) != (0, 1, 0):
                sys.exit(f"expected one config changed, got {applied(sample)}")
            applies.append(sample)
        store_kind = url.split(":", 1)[0]  # the scheme only: a URL may carry a password

    floor = no_change["floor"]
    width = 52
    print(f"store: {store_kind}")
    print(
        f"configs: {args.configs}, workspaces: {workspaces}, files: {files}; medians of "
        f"{args.runs} run(s) in turn, each a process of its own"
    )
    print(Figures.of([creates]).line(f"apply of {created} creates:", width))
    print(floor.line("floor (C-loader parse + SELECT * of the registry):", width))
    print(no_change["plan"].line("no-change plan:", width, floor))
    print(no_change["json"].line("no-change plan --format json:", width, floor))
    print(no_change["saved"].line(f"no-change plan -o ({mib(saved_size)} saved):", width, floor))
    print(no_change["workspace"].line("no-change plan -w (one workspace):", width, floor))
    print(no_change["warm"].line("no-change plan, warm cache:", width, floor))
    print(no_change["workspace_warm"].line("no-change plan -w, warm cache:", width, floor))
    changed = {name: Figures.of(samples) for name, samples in one_change.items()}
    print(changed["plan"].line("plan after one file changed:", width, floor))
    print(changed["warm"].line("plan after one file changed, warm cache:", width, floor))
    print(Figures.of(applies).line("apply of one changed config:", width))
    ratio = no_change["plan"]
    print(f"plan / floor: {ratio.wall / floor.wall:.2f}x wall, {ratio.cpu / floor.cpu:.2f}x cpu")
    return 0


if __name__ == "__main__":
    sys.exit(main())
