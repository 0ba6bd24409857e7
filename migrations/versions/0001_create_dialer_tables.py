"""Create the dialer tables: templates, messages, related objects, idempotency keys.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
STATES = (
    "WAITING", "NOT_ASSIGNED", "READY", "RESCHEDULED_BY_DIALER", "CALL_IN_PROGRESS", "HANGUP",
    "DONE", "RESCHEDULED", "ANSWERED_COMPLETE", "ANSWERED_PARTIAL", "UNREACHABLE", "DECLINED",
    "UNANSWERED", "HANGUP_BY_DIALER", "HANGUP_BY_CUSTOMER", "ERROR_UPDATE", "DEBUG", "ERROR",
    "ERROR_RETRY", "EXPIRED",
)


def _timestamps():
    return [
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
    ]


def upgrade():
    op.create_table(
        "dialer_template",
        sa.Column("id", ID, nullable=False),
        *_timestamps(),
        sa.Column("slug", sa.String(length=100), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dialer_template")),
        sa.UniqueConstraint("slug", name=op.f("uq_dialer_template_slug")),
    )
    op.create_table(
        "idempotency_key",
        sa.Column("id", ID, nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("api_key_hash", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("response_body", JSON, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_key")),
        sa.UniqueConstraint("api_key_hash", "key", name=op.f("uq_idempotency_key_api_key_hash_key")),
    )
    op.create_index(op.f("ix_idempotency_key_created_at"), "idempotency_key", ["created_at"])
    op.create_table(
        "dialer_message",
        sa.Column("id", ID, nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("recipient", sa.String(length=20), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("template_slug", sa.String(length=100), nullable=True),
        sa.Column("template_id", ID, nullable=True),
        sa.Column(
            "state",
            sa.Enum(*STATES, name="dialer_message_state", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("backend", sa.String(length=255), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("extra_data", JSON, nullable=False),
        sa.Column("extra_sender_data", JSON, nullable=False),
        sa.Column("tag", sa.String(length=255), nullable=True),
        sa.Column("is_final_state", sa.Boolean(), nullable=False),
        sa.Column("priority", sa.SmallInteger(), nullable=False),
        sa.Column("is_autodialer", sa.Boolean(), nullable=False),
        sa.Column("number_of_send_attempts", sa.Integer(), nullable=False),
        sa.Column("number_of_status_check_attempts", sa.Integer(), nullable=False),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ["template_id"], ["dialer_template.id"],
            name=op.f("fk_dialer_message_template_id_dialer_template"), ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dialer_message")),
    )
    for columns in (["created_at"], ["recipient"], ["state", "is_final_state"], ["tag"],
                    ["template_id"], ["template_slug"]):
        op.create_index(op.f("ix_dialer_message_" + "_".join(columns)), "dialer_message", columns)
    op.create_table(
        "dialer_message_related_object",
        sa.Column("id", ID, nullable=False),
        sa.Column("dialer_message_id", ID, nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("object_id", sa.Text(), nullable=False),
        sa.Column("object_id_int", sa.BigInteger(), nullable=True),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ["dialer_message_id"], ["dialer_message.id"],
            name=op.f("fk_dialer_message_related_object_dialer_message_id_dialer_message"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dialer_message_related_object")),
    )
    for columns in (["content_type", "object_id"], ["content_type", "object_id_int"],
                    ["dialer_message_id"]):
        op.create_index(
            op.f("ix_dialer_message_related_object_" + "_".join(columns)),
            "dialer_message_related_object", columns,
        )


def downgrade():
    op.drop_table("dialer_message_related_object")
    op.drop_table("dialer_message")
    op.drop_table("idempotency_key")
    op.drop_table("dialer_template")
