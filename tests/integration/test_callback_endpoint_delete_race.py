"""Deleting an endpoint while a transaction is writing the callbacks it owes (PostgreSQL, several
processes): the delete waits for that transaction, so no delivery ever names a deleted endpoint
(which the database would refuse, failing the change that owed the callback)."""
from __future__ import annotations

import os
import threading

import pytest
from sqlalchemy import func, insert, select

from service.dialer.callbacks.endpoints import delete_endpoint
from service.dialer.callbacks.outbox import MessageChange, outbox_rows, subscribers
from service.extensions import db
from service.models import CallbackDelivery
from service.models.types import utcnow
from tests.support.callbacks import callback_settings, create_endpoint
from tests.support.factories import sent_message

pytestmark = pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"),
                                reason="concurrent transactions need PostgreSQL; SQLite has one writer")


@pytest.fixture
def app(make_app):
    return make_app(callbacks=callback_settings())


def test_a_delete_waits_for_the_transaction_writing_the_endpoints_deliveries(app, api):
    endpoint = create_endpoint(api, "http://127.0.0.1:9/callbacks")
    with app.app_context():
        message_id = sent_message().id
        with db.engine.begin() as connection:
            endpoints = subscribers(connection)  # what the outbox read: the endpoint still exists
            deleting = threading.Thread(target=_delete, args=(app, endpoint["id"]))
            deleting.start()
            deleting.join(timeout=1.0)
            waited = deleting.is_alive()
            change = MessageChange(message_id, None, None, 1, transitions=[("READY", "DECLINED")])
            rows = outbox_rows(change, endpoints, utcnow())
            assert [row["endpoint_id"] for row in rows] == [endpoint["id"]]
            connection.execute(insert(CallbackDelivery.__table__), rows)  # refused if the delete had committed
        deleting.join(timeout=30)
        assert waited, "the delete did not wait for the transaction writing deliveries"
        assert db.session.scalar(select(func.count()).select_from(CallbackDelivery)) == 0  # deleted with it


def _delete(app, endpoint_id: int) -> None:
    with app.app_context():
        delete_endpoint(endpoint_id)
