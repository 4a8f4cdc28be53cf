"""Tests of proctoring.reference_api (the stand-in proctoring API), at their folder's cost:
real child processes (see tests/processes/__init__.py)."""
