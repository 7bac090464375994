"""Benchmarks for lenswatch: a generated, labelled accuracy set and its scorer.

The set is built independently of the detectors (see DATASET.md) so that accuracy numbers
measure the detectors, not how well they were fitted to the test renderings.
"""
