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
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
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


def generate(
    path: Path, configs: int, workspaces: int, prefix: str, drop_model_of_first: bool
) -> None:
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
        lines += [f"  - name: {prefix}{w:02d}", f"    defaults: {{chat: c{w:04d}/m1}}"]
    lines.append("configs:")
    for i in range(configs):
        models = "[m1]" if drop_model_of_first and i == 0 else "[m1, m2]"
        lines += [
            f"  - name: c{i:04d}",
            f"    workspace: {prefix}{i % workspaces:02d}",
            "    factory: Local",
            f"    api_key: {{env: GATEWAY_BENCH_KEY_{i}}}",
            f"    backup_keys: [{{env: GATEWAY_BENCH_BACKUP_{i}}}]",
            f"    models: {models}",
        ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    for i in range(configs):
        os.environ[f"GATEWAY_BENCH_KEY_{i}"] = f"sk-bench-primary-{i:04d}"
        os.environ[f"GATEWAY_BENCH_BACKUP_{i}"] = f"sk-bench-backup-{i:04d}"


def timed(action: Callable[[], T]) -> tuple[T, float, float]:
    """``action``'s result, wall time and this process's CPU time (llmform's side: the server's
    is the rest)."""
    start, cpu = time.perf_counter(), time.process_time()
    done = action()
    return done, time.perf_counter() - start, time.process_time() - cpu


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


@dataclass
class Measured:
    """Each phase's wall time, CPU time and requests by kind (``CountingTransport.by_kind``),
    and what broke the bound (empty: each plan read each object type once per workspace)."""

    phases: dict[str, tuple[float, float, Counter[str]]] = field(default_factory=dict)
    workspaces_in_mlflow: int = 0
    problems: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = []
        for title, (seconds, cpu, by_kind) in self.phases.items():
            requests = sum(by_kind.values())
            out.append(f"{title}: {seconds:.2f} s (llmform's CPU {cpu:.2f} s), {requests} requests")
            out += [f"  {count:6d}  {kind}" for kind, count in sorted(by_kind.items())]
        lists, spaces = len(GATEWAY_LISTINGS), self.workspaces_in_mlflow
        out.append(
            f"bound for a plan: 1 workspace listing + {lists} listings x {spaces} MLflow "
            f"workspaces = {1 + lists * spaces} requests"
        )
        return out


def measure(server_url: str, root: Path, configs: int, workspaces: int, prefix: str) -> Measured:
    """Plan and apply ``configs`` over ``workspaces`` (named ``PREFIX00``...) on the server at
    ``server_url``, with the YAML and a SQLite state in ``root``; then a no-change plan, a
    one-change plan and its apply."""
    yaml_path = root / "llmform.yaml"
    measured = Measured()
    counter = CountingTransport()
    target = MlflowTarget("mlflow+" + server_url, OpenMode.APPLY, transport=counter)
    state = open_state(f"sqlite:///{root / 'state.db'}", OpenMode.CREATE, target.display_url)
    backend = Backend(target, state)

    def phase(title: str, action: Callable[[], T]) -> T:
        counter.reset()
        done, seconds, cpu = timed(action)
        measured.phases[title] = (seconds, cpu, Counter(counter.by_kind))
        return done

    def check_plan(title: str, plan: Plan, changes: int) -> None:
        if len(plan.actionable) != changes:
            measured.problems.append(f"{title}: {len(plan.actionable)} changes, not {changes}")
        found = counter.beyond_one_read_per_workspace(in_mlflow)
        measured.problems += [f"{title}: {problem}" for problem in found]

    try:
        generate(yaml_path, configs, workspaces, prefix, drop_model_of_first=False)
        creates = phase("plan of creates", lambda: plan_of(yaml_path, backend))
        applied = phase("apply of creates", lambda: apply_all(creates, backend))
        with MlflowClient(server_url) as client:  # not counted
            in_mlflow = {w.name for w in client.list_workspaces()}
        measured.workspaces_in_mlflow = len(in_mlflow)
        same = phase("no-change plan", lambda: plan_of(yaml_path, backend))
        check_plan("no-change plan", same, 0)
        generate(yaml_path, configs, workspaces, prefix, drop_model_of_first=True)
        one = phase("one-change plan", lambda: plan_of(yaml_path, backend))
        check_plan("one-change plan", one, 1)
        phase("apply of one change", lambda: apply_all(one, backend))
        if applied != configs + workspaces + 1:  # and the factory
            measured.problems.append(f"applied {applied} creates, not {configs + workspaces + 1}")
    finally:
        backend.close()
        counter.close()
    return measured


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", type=int, default=200)
    parser.add_argument("--workspaces", type=int, default=10)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    if args.smoke:
        args.configs, args.workspaces = 20, 3
    if not 1 <= args.workspaces <= min(args.configs, 100):
        parser.error("--workspaces must be between 1 and --configs (and 100 at most)")

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "mlflow").mkdir()
        with running_server(root / "mlflow") as server:
            measured = measure(server.url, root, args.configs, args.workspaces, "bench")

    print(f"configs: {args.configs}, workspaces: {args.workspaces}")
    print("\n".join(measured.lines()))
    if measured.problems:
        print("FAIL: a plan read more than each object type once per workspace:", file=sys.stderr)
        print("\n".join(f"  {p}" for p in measured.problems), file=sys.stderr)
        return 1
    print("ok: each plan read each object type once per workspace")
    return 0


if __name__ == "__main__":
    sys.exit(main())
