"""The worker's garbage collector, set for many short jobs over a large, long-lived heap.

A worker process holds Django, RQ and the project's modules (over a hundred thousand objects
that live as long as it does), and each frame makes a few hundred short-lived ones (a job,
its futures and locks, an HTTP answer, a row). With Python's defaults a collection of the
young objects runs every 700 allocations and, every so often, one of the whole heap: under
load that was about a tenth of a worker's CPU per frame (issue 21, bench/README.md). After
start-up the heap is frozen (`gc.freeze`: collections skip it; it is still freed normally when
nothing refers to it) and young collections run less often. Reference counting frees almost
everything a job makes at once; the collector only finds cycles, and a few thousand more
objects waiting for it cost a few hundred kilobytes at most.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 20_000  # allocations between collections of the youngest generation (default 700)
OLDER_THRESHOLDS = (20, 20)  # young collections per middle one, middle per full (default 10, 10)


def settle_heap() -> None:
    """Once start-up is done: collect, freeze what is left, and collect the young less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *OLDER_THRESHOLDS)
