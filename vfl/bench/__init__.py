"""Benchmarks (``vfl bench ...``): each compares vfl with a baseline measured in the same run."""
