"""Integration tests of proctoring/store: a private Redis, no process."""
