"""Tests of proctoring_site (settings, start-up, probes, commands), at their folder's cost:
real child processes (see tests/processes/__init__.py)."""
