"""Helpers the tests share: builders, fakes, constants, drivers. No tests here (fixtures: conftest.py)."""
