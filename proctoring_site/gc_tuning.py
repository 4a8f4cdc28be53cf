"""The garbage collector of a worker and of a gateway, set for many short-lived objects over a
large, long-lived heap.

Both processes hold Django and the project's modules (over a hundred thousand objects that live
as long as they do), and each frame makes a few hundred short-lived ones (in a worker a job, its
futures and locks, an HTTP answer, a row; in a gateway a message, a Redis command, an ack).
With Python's defaults a collection of the young objects runs every 700 allocations and, every
so often, one of the whole heap. In a worker under load that was about a tenth of its CPU per
frame; in a gateway a whole-heap collection holds the event loop, so every socket, for its
length (56 ms with 500 cameras connected, issue 21, bench/README.md). After start-up the heap is
frozen (`gc.freeze`: collections skip it; it is still freed normally when nothing refers to
it) and collections run less often: a whole-heap one about a hundred times less. Reference
counting frees almost everything a frame makes at once; the collector only finds cycles, and a
few thousand more objects waiting for it cost a few hundred kilobytes at most.
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
