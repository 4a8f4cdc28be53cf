"""Tests of proctoring.results: real child processes (see tests/processes/__init__.py)."""
