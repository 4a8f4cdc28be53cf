"""Tests of proctoring.worker, at their folder's cost:
no Redis, no database, no process (see tests/unit/__init__.py)."""
