"""How long a whole `llmform validate` process takes on a one-file state (what the pre-commit
hook pays per commit), beside the floor: a Python process that only parses the same file with
PyYAML's C loader.

Both are whole processes of the same interpreter, run in turn (interleaved, so the machine's
load falls on both alike); the medians are printed with CPU time and peak memory, and the ratio
(the issue's target: at most 2x). Beside them, the same validate with nothing cached (an empty
cache folder each run: the file parsed, as a commit's changed file is) and the pre-commit hook's
command line (``--ignore-foreign --whole-state``), both also against the floor.

    python benchmarks/startup.py                  # examples/quickstart/llmform.yaml, 21 runs each
    python benchmarks/startup.py --runs 51 --file my.yaml
    python benchmarks/startup.py --smoke          # 3 runs each: proves it works
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from measure import CACHE_ENV, compiled_env, interleaved, llmform_command

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "quickstart" / "llmform.yaml"

# The floor: the interpreter's start, PyYAML's import and one parse with the C loader.
FLOOR_SCRIPT = """\
import sys
import yaml

for _ in yaml.load_all(open(sys.argv[1], encoding="utf-8"), Loader=yaml.CSafeLoader):
    pass
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=EXAMPLE, help="the one-file state")
    parser.add_argument("--runs", type=int, default=21, help="runs of each; medians count")
    parser.add_argument("--smoke", action="store_true", help="3 runs each")
    args = parser.parse_args(argv)
    if args.smoke:
        args.runs = 3
    with tempfile.TemporaryDirectory(prefix="llmform-startup-") as tmp:
        root = Path(tmp)
        state = root / "llmform.yaml"  # alone in its folder: nothing else to read
        shutil.copyfile(args.file, state)
        (root / "floor.py").write_text(FLOOR_SCRIPT)
        llmform = llmform_command(root)
        env = compiled_env(root / "pycache")
        env[CACHE_ENV] = str(root / "cache")  # a folder of this run's own
        figures = interleaved(
            {
                "floor": [sys.executable, str(root / "floor.py"), str(state)],
                "validate": [*llmform, "validate", str(state)],
                "cold": [*llmform, "validate", str(state)],
                "hook": [*llmform, "validate", "--ignore-foreign", "--whole-state", str(state)],
            },
            args.runs,
            env,
            cold=("cold",),
        )
    floor, validate = figures["floor"], figures["validate"]
    width = 36
    print(f"one-file state {args.file.name}; medians of {args.runs} interleaved runs each")
    print(floor.line("floor (python + yaml CSafeLoader):", width))
    print(validate.line("llmform validate (whole process):", width, floor))
    print(figures["cold"].line("llmform validate, nothing cached:", width, floor))
    print(figures["hook"].line("the pre-commit hook's command:", width, floor))
    print(f"ratio (wall): {validate.wall / floor.wall:.2f}x  (target: at most 2x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
