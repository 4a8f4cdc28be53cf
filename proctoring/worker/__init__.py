"""The worker process behind `rqworker proctoring`: the thread-pooled worker, batched takes and
finishes of jobs, leases and timeouts, the scheduler, the frame job itself (delivery to the
API and its bookkeeping), and the one module that speaks HTTP to the proctoring API.

May import `results`, `queue`, `store` and `core`; never `gateway`, `live` or `ops`."""
