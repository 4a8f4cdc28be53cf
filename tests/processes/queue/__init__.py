"""Tests of proctoring.queue, at their folder's cost:
real child processes (see tests/processes/__init__.py)."""
