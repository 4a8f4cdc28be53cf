"""Tests of proctoring_site (settings, start-up, probes, commands): no Redis, no database, no process (see tests/unit/__init__.py)."""
