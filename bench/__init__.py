"""Benchmarks: each prints figures measured as ratios within one run (machines are noisy)."""
