"""Integration tests (see README, Development and tests)."""
