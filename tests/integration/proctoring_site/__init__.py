"""Tests of proctoring_site (settings, start-up, probes, commands), at their folder's cost:
the private Redis and the test database, no process (see tests/integration/__init__.py)."""
