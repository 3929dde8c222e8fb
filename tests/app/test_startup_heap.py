"""After start-up the collector's full passes no longer walk the start-up objects."""

from __future__ import annotations

import gc

from bot.startup_heap import freeze_startup_heap


class Kept:
    """A start-up object: alive for the whole run."""


def test_objects_alive_at_start_up_are_left_out_of_full_collections() -> None:
    kept = [Kept() for _ in range(1_000)]
    try:
        frozen = freeze_startup_heap()
        assert frozen >= len(kept)
        walked = gc.get_objects(generation=2)
        assert not any(isinstance(obj, Kept) for obj in walked)
        made_later = [Kept() for _ in range(10)]
        gc.collect()  # what the run makes later is still collected as before
        assert sum(isinstance(obj, Kept) for obj in gc.get_objects(generation=2)) == 10
        del made_later
    finally:
        gc.unfreeze()
        del kept
