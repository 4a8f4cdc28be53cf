"""The proctor's live view: the dashboard's queries, its pages, and the WebSockets that stream
job events and dashboard updates to staff.

May import `results`, `queue`, `store` and `core`; never `gateway`, `worker` or `ops`."""
