"""Tests of proctoring.queue: the private Redis and the test database, no process (see tests/integration/__init__.py)."""
