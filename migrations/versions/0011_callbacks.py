"""Status callbacks: client endpoints, the outbox of deliveries and their attempts; a message's
own callback_url and the count of its callback events (their `sequence`).

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade():
    op.create_table(
        "callback_endpoint",
        sa.Column("id", ID, nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("event_types", JSON, nullable=False),
        sa.Column("tag", sa.String(length=255), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("disabled_reason", sa.Text(), nullable=True),
        sa.Column("secret", sa.String(length=128), nullable=False),
        sa.Column("previous_secret", sa.String(length=128), nullable=True),
        sa.Column("previous_secret_expires_at", sa.DateTime(), nullable=True),
        sa.Column("failing_since", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callback_endpoint")),
    )
    op.create_table(
        "callback_delivery",
        sa.Column("id", ID, nullable=False),
        sa.Column("webhook_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("dialer_message_id", ID, nullable=False),
        sa.Column("endpoint_id", ID, nullable=True),
        sa.Column("event_type", sa.String(length=32), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("previous_state", sa.String(length=32), nullable=True),
        sa.Column("state", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.SmallInteger(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["dialer_message_id"], ["dialer_message.id"],
            name=op.f("fk_callback_delivery_dialer_message_id_dialer_message"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["endpoint_id"], ["callback_endpoint.id"],
            name=op.f("fk_callback_delivery_endpoint_id_callback_endpoint"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callback_delivery")),
    )
    for columns in (["dialer_message_id", "sequence"], ["endpoint_id", "status", "id"],
                    ["status", "delivered_at"], ["status", "next_attempt_at"]):
        op.create_index(op.f(f"ix_callback_delivery_{'_'.join(columns)}"), "callback_delivery", columns)
    op.create_table(
        "callback_attempt",
        sa.Column("id", ID, nullable=False),
        sa.Column("delivery_id", ID, nullable=False),
        sa.Column("attempted_at", sa.DateTime(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("status_code", sa.SmallInteger(), nullable=True),
        sa.Column("response_body", sa.Text(), nullable=True),
        sa.Column("error", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(
            ["delivery_id"], ["callback_delivery.id"],
            name=op.f("fk_callback_attempt_delivery_id_callback_delivery"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callback_attempt")),
    )
    op.create_index(op.f("ix_callback_attempt_delivery_id"), "callback_attempt", ["delivery_id"])
    with op.batch_alter_table("dialer_message") as batch_op:
        batch_op.add_column(sa.Column("callback_url", sa.String(length=2048), nullable=True))
        batch_op.add_column(sa.Column("callback_sequence", sa.Integer(), server_default="0", nullable=False))


def downgrade():
    with op.batch_alter_table("dialer_message") as batch_op:
        batch_op.drop_column("callback_sequence")
        batch_op.drop_column("callback_url")
    op.drop_table("callback_attempt")
    op.drop_table("callback_delivery")
    op.drop_table("callback_endpoint")
