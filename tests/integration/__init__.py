"""Integration tests: the private Redis (tests/redis_plugin.py), Django's test database, in-process
ASGI communicators, the recording API server (a thread); never a child process
(tests/integration/conftest.py fails a test that starts one). About a minute in all; `make test-fast`
runs them."""
