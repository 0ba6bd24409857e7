"""Messages remember the Idempotency-Key claim of the request that created them.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    with op.batch_alter_table("dialer_message") as batch_op:
        batch_op.add_column(sa.Column("idempotency_key_id", ID, nullable=True))
        batch_op.create_index(batch_op.f("ix_dialer_message_idempotency_key_id"), ["idempotency_key_id"])
        batch_op.create_foreign_key(
            batch_op.f("fk_dialer_message_idempotency_key_id_idempotency_key"), "idempotency_key",
            ["idempotency_key_id"], ["id"], ondelete="SET NULL",
        )


def downgrade():
    with op.batch_alter_table("dialer_message") as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_dialer_message_idempotency_key_id_idempotency_key"),
                                 type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_dialer_message_idempotency_key_id"))
        batch_op.drop_column("idempotency_key_id")
