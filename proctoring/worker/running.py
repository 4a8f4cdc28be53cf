"""How one taken job runs on a thread of `ProctoringWorker`, and how its end is recorded.

A frame job's success goes to the finisher (`proctoring.worker.successes`), which records it in a
batch and only then ends the job's lease; anything else (a failure, a job whose result is not
batched) is recorded here with RQ's own code, and the lease ends at once. The thread's slot is
always given back, whatever happened.
"""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING, Any

from rq.queue import Queue
from rq.timeouts import JobTimeoutException
from rq.utils import now as rq_now

from proctoring.store import rq_internals
from proctoring.worker import intake, job_context, job_counts, leases, slots, successes

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from rq import SimpleWorker as _Worker
else:
    _Worker = object  # at run time the worker class brings RQ's worker itself


class JobRunning(_Worker):
    """Mixed into the worker class (before RQ's): the part that runs on the job threads."""

    # Set up by the worker class.
    _finisher: successes.Finisher | None
    _leases: leases.Leases | None
    _slots: slots.Slots

    def _run_job(self, item: intake.Taken, queue: Queue) -> None:
        job, execution = item.job, item.execution
        job_context.begin_job(job.id, item.envelope, item.pauses)
        handed_over = False  # to the finisher, which ends the lease once the success is recorded
        try:
            job.started_at = rq_now()
            timeout = job.timeout or self.queue_class.DEFAULT_TIMEOUT
            with self.death_penalty_class(timeout, JobTimeoutException, job_id=job.id):
                return_value = job.perform()
            writes, waits = job_context.end_job(), job_context.end_waits()
            if successes.is_batchable(job, return_value) and self._finisher is not None:
                job.ended_at = rq_now()
                self.executions.pop(execution.id, None)
                succeeded = successes.Succeeded(job, execution, queue.started_job_registry.key, writes)

                def store_failed(error: BaseException) -> None:
                    self._fail_late(job, queue, execution, error)

                self._finisher.add_when(succeeded, waits, store_failed)
                handed_over = True
                log.debug("Worker %s: job %s OK", self.name, job.id)
            else:
                for done in waits:
                    done.result(timeout=successes.WAIT_TIMEOUT)
                job_counts.write_success(self.connection, self.key, job, writes)
                rq_internals.finalize_success(self, job, queue, execution, return_value)
        except BaseException:
            job_context.end_job()  # a failed job's deferred writes are dropped: it may run again
            job_context.end_waits()
            try:
                rq_internals.finalize_failure(self, job, queue, execution, sys.exc_info())
                job_counts.count_if_failed_for_good(self.connection, self.key, job)
            except BaseException:
                # RQ's own failure bookkeeping failing (Redis gone): RQ's cleanup will find the
                # job abandoned in the started registry.
                log.exception("worker thread could not record the failure of job %s", job.id)
        finally:
            if not handed_over:
                self._release_lease(execution)
            self._slots.release()

    def _committed(self, batch: list[successes.Succeeded]) -> None:
        self._release_lease(*(item.execution for item in batch))

    def _release_lease(self, *executions: Any) -> None:
        if self._leases is not None:
            self._leases.release([execution.composite_key for execution in executions])

    def _fail_late(self, job: Any, queue: Queue, execution: Any, error: BaseException) -> None:
        """A job whose slot is already free failed after all (its answer could not be stored):
        RQ's failure handling, with its retries, as if the job had raised the error."""
        log.error("job %s: its answer could not be stored: %s", job.id, error)
        try:
            rq_internals.finalize_failure(
                self, job, queue, execution, (type(error), error, error.__traceback__)
            )
            job_counts.count_if_failed_for_good(self.connection, self.key, job)
        except BaseException:
            log.exception("could not record the failure of job %s; RQ's cleanup will find it", job.id)
        finally:
            self._release_lease(execution)
