"""Benchmarks: each prints its figures as JSON on its last line."""
