"""Benchmark of Tally against the naive designs: `python -m bench.run` (see docs/benchmark.md)."""
