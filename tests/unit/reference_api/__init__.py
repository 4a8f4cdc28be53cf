"""Tests of proctoring.reference_api (the stand-in proctoring API), at their folder's cost:
no Redis, no database, no process (see tests/unit/__init__.py)."""
