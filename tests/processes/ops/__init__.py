"""Tests of proctoring.ops: real child processes (see tests/processes/__init__.py)."""
