"""Messages keep Daktela's `edited` in UTC, not in Daktela's local time.

Local wall-clock times run backwards for an hour when daylight saving time
ends, so they cannot order observations; UTC can. The values already stored
are converted from DAKTELA_TIMEZONE (as configured when the migration runs).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""
from datetime import timezone
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

MESSAGES = sa.table("dialer_message", sa.column("id", sa.Integer()), sa.column("last_edited", sa.DateTime()))
BATCH = 5000


def _zone() -> str:
    from service.dialer.runtime import dialer_config

    return dialer_config().daktela.timezone


# Own conversions rather than the app's records.daktela_local_to_utc: a revision
# must keep doing what it did when it was written, whatever the app becomes.
def _local_to_utc(value, zone):
    return value.replace(tzinfo=ZoneInfo(zone)).astimezone(timezone.utc).replace(tzinfo=None)


def _utc_to_local(value, zone):
    return value.replace(tzinfo=timezone.utc).astimezone(ZoneInfo(zone)).replace(tzinfo=None)


def _convert(to_utc: bool) -> None:
    zone, connection = _zone(), op.get_bind()
    if connection.dialect.name == "postgresql":
        source, target = (sa.bindparam("zone"), sa.literal("UTC")) if to_utc else (sa.literal("UTC"),
                                                                                    sa.bindparam("zone"))
        connection.execute(
            MESSAGES.update().where(MESSAGES.c.last_edited.is_not(None)).values(
                last_edited=sa.func.timezone(target, sa.func.timezone(source, MESSAGES.c.last_edited))),
            {"zone": zone})
        return
    convert = _local_to_utc if to_utc else _utc_to_local
    last_id = 0
    while True:
        rows = connection.execute(
            sa.select(MESSAGES.c.id, MESSAGES.c.last_edited)
            .where(MESSAGES.c.id > last_id, MESSAGES.c.last_edited.is_not(None))
            .order_by(MESSAGES.c.id).limit(BATCH)).all()
        if not rows:
            return
        connection.execute(MESSAGES.update().where(MESSAGES.c.id == sa.bindparam("row_id"))
                           .values(last_edited=sa.bindparam("value")),
                           [{"row_id": row.id, "value": convert(row.last_edited, zone)} for row in rows])
        last_id = rows[-1].id


def upgrade():
    _convert(to_utc=True)


def downgrade():
    _convert(to_utc=False)
