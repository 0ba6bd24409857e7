"""Call timing: send_at, valid_until, per-message calling hours, why a SCHEDULED message waits,
when it was handed to the provider (recipient daily limit), the publisher's lease, and a
pending take-back of a provider record (cancel or expiry). SCHEDULED and CANCELLED are new
state names; the state column is a plain string (no CHECK), so no change is needed for them.

Revision ID: 0009
Revises: 0007
Create Date: 2026-11-30
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0007"
branch_labels = None
depends_on = None

COLUMNS = (
    ("send_at", sa.DateTime()),
    ("valid_until", sa.DateTime()),
    ("calling_hours", sa.String(length=200)),
    ("schedule_note", sa.Text()),
    ("published_at", sa.DateTime()),
    ("leased_until", sa.DateTime()),
    ("withdrawal", sa.String(length=32)),
)
INDEXES = (
    ("ix_dialer_message_recipient_published_at", ["recipient", "published_at"]),
    ("ix_dialer_message_state_valid_until", ["state", "valid_until"]),
    ("ix_dialer_message_withdrawal", ["withdrawal"]),
)


def upgrade():
    with op.batch_alter_table("dialer_message") as batch_op:
        for name, type_ in COLUMNS:
            batch_op.add_column(sa.Column(name, type_, nullable=True))
        for name, columns in INDEXES:
            batch_op.create_index(name, columns)


def downgrade():
    op.execute("UPDATE dialer_message SET state = 'WAITING' WHERE state = 'SCHEDULED'")
    op.execute("UPDATE dialer_message SET state = 'EXPIRED', error = 'Cancelled (a state revision 0009 added)' WHERE state = 'CANCELLED'")
    with op.batch_alter_table("dialer_message") as batch_op:
        for name, _ in INDEXES:
            batch_op.drop_index(name)
        for name, _ in reversed(COLUMNS):
            batch_op.drop_column(name)
