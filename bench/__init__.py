"""Benchmarks: run them all with ./scripts/bench (or `python -m bench`)."""
