"""collector.py: a run's collector off, and on over the key checks' own objects only."""

from __future__ import annotations

import gc
import weakref

from llmform.collector import collecting_new_objects, collector_off


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the collector frees it


def test_the_key_checks_cycles_are_collected_but_not_what_was_built_before() -> None:
    with collector_off():
        before = Node()
        assert not gc.isenabled()
        with collecting_new_objects():
            assert gc.isenabled()
            assert gc.get_freeze_count() > 0  # what was alive on entry is not walked
            made = [weakref.ref(Node()) for _ in range(5_000)]  # enough to trigger collections
            assert any(ref() is None for ref in made)  # the collector ran over them, unasked
        assert not gc.isenabled()
        assert gc.get_freeze_count() == 0
        assert before.me is before
    assert gc.isenabled()
