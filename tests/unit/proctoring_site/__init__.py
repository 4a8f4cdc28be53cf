"""Tests of proctoring_site (settings, start-up, probes, commands), at their folder's cost:
no Redis, no database, no process (see tests/unit/__init__.py)."""
