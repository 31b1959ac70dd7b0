"""Benchmarks: each measurement next to a baseline run in the same process, as a ratio."""
