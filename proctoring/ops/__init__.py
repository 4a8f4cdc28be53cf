"""Operations: queue figures (`rqstats`, `proctoring_stats`, stats.json), the Prometheus
collector and monitoring endpoints, the admin's queue, per-client, failed-job and job pages
and their actions, and the end-to-end self test.

May import `results`, `queue`, `store` and `core`; never `gateway`, `worker` or `live`."""
