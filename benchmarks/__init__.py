"""Runnable benchmarks. Every figure quoted in the project's docs comes from one of these."""
