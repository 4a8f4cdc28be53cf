"""Tests of proctoring_site (settings, start-up, probes, commands): real child processes (see tests/processes/__init__.py)."""
