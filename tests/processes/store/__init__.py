"""Tests of proctoring.store: real child processes (see tests/processes/__init__.py)."""
