"""Benchmarks of the pipeline: each starts a private stack, measures one thing and stops it."""
