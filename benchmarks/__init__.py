"""Benchmarks for orch-bot, run against the test fakes; how to run them and the results are in docs/performance.md."""
