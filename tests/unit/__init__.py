"""Unit tests (see README, Development and tests)."""
