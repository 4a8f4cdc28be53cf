"""Tests of proctoring.live: real child processes (see tests/processes/__init__.py)."""
