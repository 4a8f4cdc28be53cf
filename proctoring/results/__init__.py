"""What the proctoring found: answers written to the database off the job's thread, incidents
grouped from findings, snapshot files of flagged frames, and their retention and purge; and who
may see them and what staff did with them (`authorization`, the audit log `audit`).

May import `queue`, `store` and `core`, and the Django models."""
