"""Runnable benchmarks; figures and the commands behind them are in RESULTS.md."""
