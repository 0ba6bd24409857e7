"""Schedule publishing: dialer_message.next_attempt_at (retry time, or a publisher's lease).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("dialer_message") as batch_op:
        batch_op.add_column(sa.Column("next_attempt_at", sa.DateTime(), nullable=True))
        batch_op.create_index(
            "ix_dialer_message_state_next_attempt_at", ["state", "next_attempt_at"]
        )


def downgrade():
    with op.batch_alter_table("dialer_message") as batch_op:
        batch_op.drop_index("ix_dialer_message_state_next_attempt_at")
        batch_op.drop_column("next_attempt_at")
