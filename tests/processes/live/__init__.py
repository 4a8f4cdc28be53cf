"""Tests of proctoring.live, at their folder's cost:
real child processes (see tests/processes/__init__.py)."""
