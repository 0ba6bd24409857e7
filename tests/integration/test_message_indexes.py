"""The partial indexes of revision 0012 still serve the look-ups they exist for, on both
databases: a comparison with the column implies it is set, which each index's condition asks."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from service.extensions import db

# (index, a query of the kind the service makes)
LOOK_UPS = [
    ("ix_dialer_message_tag", "SELECT id FROM dialer_message WHERE tag = :value"),
    ("ix_dialer_message_template_slug", "SELECT id FROM dialer_message WHERE template_slug = :value"),
    ("ix_dialer_message_withdrawal", "SELECT id FROM dialer_message WHERE withdrawal = :value"),
    ("ix_dialer_message_template_id", "SELECT id FROM dialer_message WHERE template_id = :number"),
    ("ix_dialer_message_idempotency_key_id", "SELECT id FROM dialer_message WHERE idempotency_key_id = :number"),
    ("ix_dialer_message_state_valid_until",
     "SELECT id FROM dialer_message WHERE state = :value AND valid_until <= CURRENT_TIMESTAMP"),
    ("ix_dialer_message_recipient_published_at", "SELECT id FROM dialer_message WHERE recipient = :value"),
]


def _plan(connection, query: str) -> str:
    parameters = {"value": "x", "number": 1}
    if connection.dialect.name == "postgresql":
        connection.execute(text("SET LOCAL enable_seqscan = off"))  # an empty table: ask whether it can
        rows = connection.execute(text(f"EXPLAIN {query}"), parameters)
    else:
        rows = connection.execute(text(f"EXPLAIN QUERY PLAN {query}"), parameters)
    return "\n".join(str(row[-1]) for row in rows)


@pytest.mark.parametrize("index, query", LOOK_UPS, ids=[index for index, _ in LOOK_UPS])
def test_the_look_up_uses_its_index(app_context, index, query):
    with db.engine.begin() as connection:
        assert index in _plan(connection, query)


@pytest.mark.parametrize("index", ["ix_dialer_message_recipient", "ix_dialer_message_state_is_final_state"])
def test_indexes_another_index_covers_are_gone(app_context, index):
    with db.engine.connect() as connection:
        names = {found["name"] for found in db.inspect(connection).get_indexes("dialer_message")}
    assert index not in names
    assert "ix_dialer_message_tag" in names
