"""Tests with real child processes: `manage.py rqworker` (the `start_worker` fixture), daphne or
`rungateway` (`start_daphne`), extra redis-servers, `python -c` start-ups of the settings, a wheel build.
Seconds each, minutes in all; `make test` runs them, `make test-fast` does not."""
