"""The cyclic garbage collector during a run: off, as pip, black and mypy run, except over the
objects the key checks make.

What a run builds (the desired state, the store's resources, the plan) lives until the command
ends and holds no reference cycles, yet the collector, triggered by the number of allocations
alone, walks it again and again: about a fifth of a no-change plan's CPU at 10,000 configs
(benchmarks/plan.py), half of validating them. Reference counting still frees everything
dropped, and the few cycles a run makes (an exception's traceback) go when the process ends.
The key checks are the exception: every request leaves a few KiB of cycles behind (the event
loop's tasks and futures, the HTTP client's responses), hundreds of MiB at 100,000 keys, so they
run with the collector on, over their own objects only (what was there before is frozen: never
walked).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_off() -> Iterator[None]:
    """A run (a command's, or the loading of a state) without the collector; a caller gets it
    back as it was."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextmanager
def collecting_new_objects() -> Iterator[None]:
    """The collector on over what is made inside only: everything alive on entry is moved to
    the permanent generation (``gc.freeze``) and back on exit."""
    enabled = gc.isenabled()
    gc.freeze()
    gc.enable()
    try:
        yield
    finally:
        if not enabled:
            gc.disable()
        gc.unfreeze()
