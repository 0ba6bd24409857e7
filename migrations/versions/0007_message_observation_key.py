"""A short key of the last observation applied to a message, so the poller can tell a
record it has already applied (most of a feed page) without loading the message.

Rows stored before this revision have none: their records take the full
comparison until their next change is applied.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("dialer_message") as batch_op:
        batch_op.add_column(sa.Column("observation_key", sa.String(length=32), nullable=True))


def downgrade():
    with op.batch_alter_table("dialer_message") as batch_op:
        batch_op.drop_column("observation_key")
