"""The intake server's periodic freeze: survivors leave the collector, young garbage does not."""

from __future__ import annotations

import gc
import weakref

from revops.api.service import freeze_survivors


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


def test_survivors_are_frozen_and_young_cycles_collected_first() -> None:
    gc.collect()
    gc.unfreeze()
    kept = [_Node() for _ in range(1000)]
    cycle_a, cycle_b = _Node(), _Node()
    cycle_a.other, cycle_b.other = cycle_b, cycle_a
    dead = weakref.ref(cycle_a)
    del cycle_a, cycle_b  # garbage only a collection can free (a reference cycle)
    before = gc.get_freeze_count()
    try:
        freeze_survivors()
        assert dead() is None  # collected before the freeze, not frozen forever
        assert gc.get_freeze_count() >= before + len(kept)
    finally:
        gc.unfreeze()
