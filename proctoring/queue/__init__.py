"""The queue between gateway and workers: enqueueing a frame (admission, the envelope, RQ's job
writes), the job policy (timeout, retries, TTLs), per-client counts, fair order and
latest-frame-wins, the API's circuit breaker, freshness figures and the hot-path metrics
recorder, and the RQ queue class that keeps our records when RQ moves a job.

May import `store` and `core`."""
