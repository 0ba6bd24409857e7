"""Call status tracking: message tracking columns, the event history, the poller's state.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade():
    with op.batch_alter_table("dialer_message") as batch_op:
        batch_op.add_column(sa.Column("last_edited", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("nextcall_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("last_webhook_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("next_check_at", sa.DateTime(), nullable=True))
        batch_op.add_column(
            sa.Column("needs_status_lookup", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.create_index(
            "ix_dialer_message_is_final_state_next_check_at", ["is_final_state", "next_check_at"]
        )
    with op.batch_alter_table("dialer_message") as batch_op:
        batch_op.alter_column("needs_status_lookup", server_default=None)
    op.create_table(
        "dialer_message_event",
        sa.Column("id", ID, nullable=False),
        sa.Column("dialer_message_id", ID, nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("old_state", sa.String(length=32), nullable=True),
        sa.Column("new_state", sa.String(length=32), nullable=True),
        sa.Column("applied", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("payload", JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["dialer_message_id"], ["dialer_message.id"],
            name=op.f("fk_dialer_message_event_dialer_message_id_dialer_message"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dialer_message_event")),
    )
    op.create_index(
        op.f("ix_dialer_message_event_dialer_message_id"), "dialer_message_event", ["dialer_message_id"]
    )
    op.create_table(
        "dialer_poll_state",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_dialer_poll_state")),
    )


def downgrade():
    op.drop_table("dialer_poll_state")
    op.drop_table("dialer_message_event")
    with op.batch_alter_table("dialer_message") as batch_op:
        batch_op.drop_index("ix_dialer_message_is_final_state_next_check_at")
        for column in ("needs_status_lookup", "next_check_at", "last_webhook_at", "nextcall_at", "last_edited"):
            batch_op.drop_column(column)
