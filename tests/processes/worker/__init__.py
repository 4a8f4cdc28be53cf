"""Tests of proctoring.worker: real child processes (see tests/processes/__init__.py)."""
