"""Tests of proctoring.worker: no Redis, no database, no process (see tests/unit/__init__.py)."""
