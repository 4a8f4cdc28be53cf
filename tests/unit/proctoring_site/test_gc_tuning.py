"""A worker's and a gateway's collector after start-up (`proctoring_site.gc_tuning`): the start-up heap left
out of collections, young collections less often; cycles made later are still collected."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from proctoring_site import gc_tuning


@pytest.fixture
def restored() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def test_the_start_up_heap_is_frozen_and_later_cycles_are_still_collected(restored: None) -> None:
    gc_tuning.settle_heap()
    assert gc.get_freeze_count() > 1000, "the modules loaded so far are left out of collections"
    assert gc.get_threshold() == (gc_tuning.YOUNG_THRESHOLD, *gc_tuning.OLDER_THRESHOLDS)

    first, second = Node(), Node()
    first.other, second.other = second, first
    gone = weakref.ref(first)
    del first, second
    gc.collect()
    assert gone() is None, "a cycle made after start-up is still freed"
