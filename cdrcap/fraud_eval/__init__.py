"""Offline evaluation of the fraud rules: a synthetic day with labelled episodes, precision/recall per rule.

Harness-only (`cdrcap fraud-eval`, the fraud loadgen evaluation, tests, benchmarks): it drives
pipeline.fraud's engine but never ships in the Lambda zip.
"""
