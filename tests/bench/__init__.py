"""Benchmark smoke tests: each script under bench/ run once with tiny numbers, as child processes,
so that it cannot rot; they never assert a speed. `make test` runs them, `make test-fast` does not."""
