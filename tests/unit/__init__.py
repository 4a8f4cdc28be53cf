"""Unit tests: pure functions, settings parsing, protocol constants, views through Django's test
client without a database. No Redis, no database, no child process: tests/unit/conftest.py fails a
test that touches Redis or starts a process, and pytest-django refuses the database. Seconds in all;
`make test-fast` runs them."""
