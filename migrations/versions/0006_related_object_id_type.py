"""Related objects remember whether object_id was given as an integer, so the API
shows it as given (42, not "42").

Rows stored before this revision keep showing their id as a string: whether it
was given as an integer was not recorded.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("dialer_message_related_object") as batch_op:
        batch_op.add_column(
            sa.Column("object_id_is_integer", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    # The server default only fills existing rows; new ones get the model's value.
    with op.batch_alter_table("dialer_message_related_object") as batch_op:
        batch_op.alter_column("object_id_is_integer", server_default=None)


def downgrade():
    with op.batch_alter_table("dialer_message_related_object") as batch_op:
        batch_op.drop_column("object_id_is_integer")
