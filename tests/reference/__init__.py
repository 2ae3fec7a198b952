"""Frozen copies of implementations that were rewritten for speed, kept as oracles: the new code must
give the same numbers (tests/test_scale_equality.py). Not used by the package."""
