"""The dotted paths that queued and failed jobs in Redis name: `proctoring.jobs.forward_frame_job`
and its failure callback `proctoring.jobs.on_forward_failure`. A job stores the path of its
function, not the function, so these names stay importable for as long as such a job may exist
(failed jobs are kept for days); the code lives in `proctoring.worker.delivery`."""

from __future__ import annotations

from proctoring.worker.delivery import forward_frame_job, on_forward_failure

__all__ = ["forward_frame_job", "on_forward_failure"]
