"""What the benchmarks share: running one measurement in a child process of its own and reading
its wall time, CPU time and peak memory, and medians of interleaved runs.

Each measurement is a fresh process, so that neither side inherits the other's objects, imports
or garbage-collector state, and the peak memory (``ru_maxrss``, from ``os.wait4``) is that
measurement's alone. CPU time (user + system) is the steadier figure on a shared machine, where
other processes stretch the wall clock.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

# ru_maxrss is in kibibytes on Linux and in bytes on macOS
_MAXRSS_UNIT = 1 if sys.platform == "darwin" else 1024


@dataclass(frozen=True)
class Sample:
    wall: float  # seconds
    cpu: float  # seconds, user + system
    peak_bytes: int  # the child's maximum resident set size
    stdout: str


def run_child(argv: Sequence[str], env: Mapping[str, str] | None = None) -> Sample:
    """Run ``argv`` to its end; its own wall time, CPU time and peak memory. Exits the benchmark
    with the child's stderr if it fails (a figure of a failure measures the wrong thing)."""
    # the output goes to files, not pipes: communicate() would reap the child itself, and its
    # resource usage with it
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        child = subprocess.Popen(
            argv, env=None if env is None else dict(env), stdout=out, stderr=err
        )
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if child.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed ({child.returncode}):\n{stdout}{stderr}")
    return Sample(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * _MAXRSS_UNIT, stdout)


def compiled_env(cache: Path) -> dict[str, str]:
    """This environment with Python's bytecode cached under ``cache``, as an installed package's
    is: without it (PYTHONDONTWRITEBYTECODE, a read-only tree) every import compiles its source
    again and start-up figures measure the compiler. The first run of each command fills it."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(cache)
    return env


@dataclass(frozen=True)
class Figures:
    """The medians of several samples of one measurement."""

    wall: float
    cpu: float
    peak_bytes: int
    runs: int

    @classmethod
    def of(cls, samples: Sequence[Sample]) -> Figures:
        return cls(
            statistics.median(s.wall for s in samples),
            statistics.median(s.cpu for s in samples),
            int(statistics.median(s.peak_bytes for s in samples)),
            len(samples),
        )

    def line(self, label: str, width: int, floor: Figures | None = None) -> str:
        ratio = ""
        if floor is not None:
            ratio = f"  {self.wall / floor.wall:5.2f}x wall, {self.cpu / floor.cpu:5.2f}x cpu"
        return (
            f"{label:<{width}} {self.wall:8.3f} s wall {self.cpu:8.3f} s cpu "
            f"{self.peak_bytes / 2**20:7.1f} MiB peak{ratio}"
        )


def interleaved(
    sides: Mapping[str, Sequence[str]], runs: int, env: Mapping[str, str] | None = None
) -> dict[str, Figures]:
    """Medians of ``runs`` runs of each command, taken in turn (A B, B A, A B, ...) so that a
    change in the machine's load falls on every side alike."""
    for argv in sides.values():  # a first run, not counted: caches filled, files read once
        run_child(argv, env)
    samples: dict[str, list[Sample]] = {name: [] for name in sides}
    names = list(sides)
    for round_ in range(runs):
        for name in names if round_ % 2 == 0 else reversed(names):
            samples[name].append(run_child(sides[name], env))
    return {name: Figures.of(found) for name, found in samples.items()}
