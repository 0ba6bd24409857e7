"""Leaner dialer_message indexes: each change of a message's state writes a new entry in every
index of its row (the state is indexed, so PostgreSQL cannot update the row in place), so the
status check's cost per change follows the number of indexes.

- Dropped: `recipient` (the leading column of `recipient, published_at`, which serves the same
  look-ups) and `state, is_final_state` (`state, next_attempt_at` and `is_final_state,
  next_check_at` lead with the same columns).
- Partial: columns most messages leave empty (tag, template, idempotency key, a pending
  take-back, valid_until) are indexed only where set. Every query on them compares the column
  with a value, which implies it is set, so both databases still use these indexes.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30
"""
import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

TABLE = "dialer_message"
DROPPED = (
    ("ix_dialer_message_recipient", ["recipient"]),
    ("ix_dialer_message_state_is_final_state", ["state", "is_final_state"]),
)
# (name, columns, the column that must be set)
PARTIAL = (
    ("ix_dialer_message_state_valid_until", ["state", "valid_until"], "valid_until"),
    ("ix_dialer_message_template_slug", ["template_slug"], "template_slug"),
    ("ix_dialer_message_template_id", ["template_id"], "template_id"),
    ("ix_dialer_message_tag", ["tag"], "tag"),
    ("ix_dialer_message_withdrawal", ["withdrawal"], "withdrawal"),
    ("ix_dialer_message_idempotency_key_id", ["idempotency_key_id"], "idempotency_key_id"),
)


def upgrade():
    for name, _ in DROPPED:
        op.drop_index(name, table_name=TABLE)
    for name, columns, column in PARTIAL:
        where = sa.text(f"{column} IS NOT NULL")
        op.drop_index(name, table_name=TABLE)
        op.create_index(name, TABLE, columns, postgresql_where=where, sqlite_where=where)


def downgrade():
    for name, columns, _ in PARTIAL:
        op.drop_index(name, table_name=TABLE)
        op.create_index(name, TABLE, columns)
    for name, columns in DROPPED:
        op.create_index(name, TABLE, columns)
