"""Api tests (see README, Development and tests)."""
