"""Tests of proctoring.gateway: real child processes (see tests/processes/__init__.py)."""
