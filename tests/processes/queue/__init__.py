"""Tests of proctoring.queue: real child processes (see tests/processes/__init__.py)."""
