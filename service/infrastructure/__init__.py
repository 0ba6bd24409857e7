"""Building blocks that know nothing of dialing: row locks, group commit, cursor pagination."""
