"""What the proctoring found: answers written to the database off the job's thread, incidents
grouped from findings, snapshot files of flagged frames, and their retention and purge.

May import `queue`, `store` and `core`, and the Django models."""
