"""What the benchmarks share: running one measurement in a child process of its own and reading
its wall time, CPU time and peak memory, and medians of interleaved runs.

Each measurement is a fresh process, so that neither side inherits the other's objects, imports
or garbage-collector state, and the peak memory (``ru_maxrss``, from ``os.wait4``) is that
measurement's alone. CPU time (user + system) is the steadier figure on a shared machine, where
other processes stretch the wall clock.
"""

from __future__ import annotations

import hashlib
import inspect
import itertools
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

# ru_maxrss is in kibibytes on Linux and in bytes on macOS
_MAXRSS_UNIT = 1 if sys.platform == "darwin" else 1024
# where llmform keeps parsed files between runs: a benchmark's children get folders of their own
CACHE_ENV = "LLMFORM_CACHE_DIR"


@dataclass(frozen=True)
class Sample:
    wall: float  # seconds
    cpu: float  # seconds, user + system
    peak_bytes: int  # the child's maximum resident set size
    stdout: str
    stderr: str


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
    cpu = usage.ru_utime + usage.ru_stime
    return Sample(wall, cpu, usage.ru_maxrss * _MAXRSS_UNIT, stdout, stderr)


def compiled_env(cache: Path) -> dict[str, str]:
    """This environment with Python's bytecode cached under ``cache``, as an installed package's
    is: without it (PYTHONDONTWRITEBYTECODE, a read-only tree) every import compiles its source
    again and start-up figures measure the compiler. The first run of each command fills it."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(cache)
    return env


# What the console script `llmform` runs (pip's generated wrapper), without depending on where
# the wrapper was installed.
LLMFORM_SCRIPT = """\
import sys
from llmform.cli import main

sys.exit(main())
"""


def llmform_command(folder: Path) -> list[str]:
    """``llmform --no-color`` as a command line: this interpreter and the console script's
    wrapper, written into ``folder``."""
    script = folder / "llmform_cli.py"
    script.write_text(LLMFORM_SCRIPT)
    return [sys.executable, str(script), "--no-color"]


def cached_tree(name: str, build: Callable[[Path], None]) -> Path:
    """A folder that ``build`` fills, made once and kept for later runs under the temporary
    directory (``llmform-bench-cache/NAME``, NAME saying what was generated; delete it at will).
    Built aside and renamed into place, so a run stopped half-way leaves nothing half-made."""
    cache = Path(tempfile.gettempdir()) / "llmform-bench-cache"
    done = cache / name
    if done.is_dir():
        return done
    cache.mkdir(exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f"{name}.", dir=cache))
    build(partial)
    try:
        partial.rename(done)
    except OSError:  # another run made it meanwhile
        shutil.rmtree(partial)
    return done


def source_digest(*functions: Callable[..., object]) -> str:
    """A short digest of the functions' source: a cached generation is redone when the code
    that generates it changes."""
    text = "".join(inspect.getsource(function) for function in functions)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def mib(size: int) -> str:
    return f"{size / 2**20:.1f} MiB"


@dataclass(frozen=True)
class Figures:
    """The medians of several samples of one measurement."""

    wall: float
    cpu: float
    peak_bytes: int
    samples: tuple[Sample, ...]

    @classmethod
    def of(cls, samples: Sequence[Sample]) -> Figures:
        return cls(
            statistics.median(s.wall for s in samples),
            statistics.median(s.cpu for s in samples),
            int(statistics.median(s.peak_bytes for s in samples)),
            tuple(samples),
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
    sides: Mapping[str, Sequence[str]],
    runs: int,
    env: Mapping[str, str] | None = None,
    warm_up: bool = True,
    cold: Collection[str] = (),
) -> dict[str, Figures]:
    """Medians of ``runs`` runs of each command, taken in turn (A B, B A, A B, ...) so that a
    change in the machine's load falls on every side alike. With ``warm_up``, a first run of
    each is not counted (bytecode compiled, files in the page cache). The sides named in
    ``cold`` run each time with an empty cache folder of their own (``LLMFORM_CACHE_DIR``: no
    parsed file from an earlier run); the others with ``env``'s."""
    samples: dict[str, list[Sample]] = {name: [] for name in sides}
    names = list(sides)
    with tempfile.TemporaryDirectory(prefix="llmform-cold-") as caches:
        fresh = (f"{caches}/{n}" for n in itertools.count())

        def env_of(name: str) -> Mapping[str, str] | None:
            if name not in cold:
                return env
            return {**(os.environ if env is None else env), CACHE_ENV: next(fresh)}

        for name in names if warm_up else ():
            run_child(sides[name], env_of(name))
        for round_ in range(runs):
            for name in names if round_ % 2 == 0 else reversed(names):
                samples[name].append(run_child(sides[name], env_of(name)))
    return {name: Figures.of(found) for name, found in samples.items()}
