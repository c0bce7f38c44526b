"""How many requests and how long plan and apply take against a real MLflow AI Gateway.

Starts an ``mlflow server`` (the tests' ``tests/support/mlflow_server.py``: the pinned
``.venv-mlflow``, or ``LLMFORM_MLFLOW``; loopback, SQLite, workspaces on), writes N configs
(default 200) over W workspaces (default 10), each with a primary and a backup key and two
models, and each workspace with a default chat endpoint, then times and counts:

- the plan and the apply of everything (creates);
- a no-change plan, which must read each object type once per workspace, not once per object:
  ``GET workspaces`` once, then ``secrets/list``, ``model-definitions/list`` and
  ``endpoints/list`` once per MLflow workspace, and nothing else. Exits 1, loudly, if not;
- a one-change plan (one config loses a model) and its apply.

    python benchmarks/gateway.py
    python benchmarks/gateway.py --configs 50 --workspaces 5
    python benchmarks/gateway.py --smoke      # 20 configs over 3 workspaces: proves it works

Requests are counted by an httpx transport handed to the target (``MlflowTarget(transport=)``),
so pages would count too. Keys are env references set in this process (no Vault) and the
provider is never called (no key checks): the figures are llmform's and MLflow's. The state is a
temporary SQLite file.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the tests' server support (benchmarks are not shipped)

from support.mlflow_server import GATEWAY_LISTINGS, CountingTransport, running_server  # noqa: E402

from llmform.core.plan import Plan  # noqa: E402
from llmform.desired.validate import load_state  # noqa: E402
from llmform.engine.apply import apply_plan, check_fresh  # noqa: E402
from llmform.engine.backend import Backend  # noqa: E402
from llmform.engine.plan import make_plan  # noqa: E402
from llmform.secrets.chain import chain_from_env  # noqa: E402
from llmform.state.audit import RunInfo  # noqa: E402
from llmform.state.stores import open_state  # noqa: E402
from llmform.targets import OpenMode  # noqa: E402
from llmform.targets.mlflow.client import MlflowClient  # noqa: E402
from llmform.targets.mlflow.target import MlflowTarget  # noqa: E402

API_BASE = "http://127.0.0.1:9/v1"  # never called: nothing here invokes the gateway
T = TypeVar("T")


def generate(path: Path, configs: int, workspaces: int, drop_model_of_first: bool) -> None:
    """The YAML: one file, ``c0000`` without model ``m2`` when ``drop_model_of_first``."""
    lines = [
        "apiVersion: llmform/v1",
        "factories:",
        "  - name: Local",
        "    type: openai-compatible",
        f"    api_base: {API_BASE}",
        "    models:",
        "      - {name: m1, type: chat, max_tokens: 1000}",
        "      - {name: m2, type: chat, max_tokens: 1000}",
        "workspaces:",
    ]
    for w in range(workspaces):
        lines += [f"  - name: bench{w:02d}", f"    defaults: {{chat: c{w:04d}/m1}}"]
    lines.append("configs:")
    for i in range(configs):
        models = "[m1]" if drop_model_of_first and i == 0 else "[m1, m2]"
        lines += [
            f"  - name: c{i:04d}",
            f"    workspace: bench{i % workspaces:02d}",
            "    factory: Local",
            f"    api_key: {{env: GATEWAY_BENCH_KEY_{i}}}",
            f"    backup_keys: [{{env: GATEWAY_BENCH_BACKUP_{i}}}]",
            f"    models: {models}",
        ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    for i in range(configs):
        os.environ[f"GATEWAY_BENCH_KEY_{i}"] = f"sk-bench-primary-{i:04d}"
        os.environ[f"GATEWAY_BENCH_BACKUP_{i}"] = f"sk-bench-backup-{i:04d}"


def timed(action: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    done = action()
    return done, time.perf_counter() - start


def plan_of(path: Path, backend: Backend) -> Plan:
    return make_plan(load_state([str(path)]), backend, chain_from_env())


def apply_all(plan: Plan, backend: Backend) -> int:
    """Apply ``plan`` as the CLI does: the keys resolved again, then applied under the lock."""
    resolved = check_fresh(plan, backend, chain_from_env())
    run = RunInfo(run_id=plan.plan_id, actor="benchmark", commit=None)
    with backend.state.lock("apply", 5):
        return apply_plan(plan, backend, run, secrets=resolved).applied


def requests_report(title: str, counter: CountingTransport) -> list[str]:
    lines = [f"{title}: {counter.total} requests"]
    for kind, count in sorted(counter.by_kind.items()):
        lines.append(f"  {count:6d}  {kind}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", type=int, default=200)
    parser.add_argument("--workspaces", type=int, default=10)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    if args.smoke:
        args.configs, args.workspaces = 20, 3
    if not 1 <= args.workspaces <= args.configs:
        parser.error("--workspaces must be between 1 and --configs")

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        yaml_path = root / "llmform.yaml"
        generate(yaml_path, args.configs, args.workspaces, drop_model_of_first=False)
        (root / "mlflow").mkdir()
        out: list[str] = []
        problems: list[str] = []
        with running_server(root / "mlflow") as server:
            counter = CountingTransport()
            target = MlflowTarget("mlflow+" + server.url, OpenMode.APPLY, transport=counter)
            state = open_state(f"sqlite:///{root / 'state.db'}", OpenMode.CREATE, server.url)
            backend = Backend(target, state)
            try:
                counter.reset()
                creates, seconds = timed(lambda: plan_of(yaml_path, backend))
                out += requests_report(f"plan of creates ({seconds:.2f} s)", counter)
                counter.reset()
                applied, seconds = timed(lambda: apply_all(creates, backend))
                out += requests_report(f"apply of {applied} creates ({seconds:.2f} s)", counter)

                with MlflowClient(server.url) as client:  # not counted
                    mlflow_workspaces = {w.name for w in client.list_workspaces()}
                counter.reset()
                same, seconds = timed(lambda: plan_of(yaml_path, backend))
                out += requests_report(f"no-change plan ({seconds:.2f} s)", counter)
                if not same.summary.empty:
                    problems.append(f"the no-change plan has changes: {same.summary}")
                lists = len(GATEWAY_LISTINGS)
                out.append(
                    f"bound: 1 workspace listing + {lists} listings x {len(mlflow_workspaces)} "
                    f"MLflow workspaces = {1 + lists * len(mlflow_workspaces)} requests"
                )
                problems += counter.beyond_one_read_per_workspace(mlflow_workspaces)

                generate(yaml_path, args.configs, args.workspaces, drop_model_of_first=True)
                counter.reset()
                one, seconds = timed(lambda: plan_of(yaml_path, backend))
                out += requests_report(f"one-change plan ({seconds:.2f} s)", counter)
                if one.summary.empty:
                    problems.append("the one-change plan has no change")
                more = counter.beyond_one_read_per_workspace(mlflow_workspaces)
                problems += [f"one-change plan: {p}" for p in more]
                counter.reset()
                applied, seconds = timed(lambda: apply_all(one, backend))
                out += requests_report(f"apply of {applied} change ({seconds:.2f} s)", counter)
            finally:
                backend.close()
                counter.close()

    print(f"configs: {args.configs}, workspaces: {args.workspaces}")
    print("\n".join(out))
    if problems:
        print("FAIL: a plan read more than each object type once per workspace:", file=sys.stderr)
        print("\n".join(f"  {p}" for p in problems), file=sys.stderr)
        return 1
    print("ok: each plan read each object type once per workspace")
    return 0


if __name__ == "__main__":
    sys.exit(main())
