"""Tests of proctoring.live, at their folder's cost:
the private Redis and the test database, no process (see tests/integration/__init__.py)."""
