"""The outbox on the batched Core path (webhook groups, the poller) and through the Daktela
backend: every applied state change owes its callbacks in the same transaction."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from config import BatchConfig
from service.backends.daktela.states import StateRules, daktela_observation
from service.dialer.callbacks.dispatch import Dispatcher
from service.dialer.sending import build_message, store_and_publish
from service.dialer.tracking.groups import PendingWebhook, apply_webhooks
from service.dialer.tracking.poll import check_dialer_status
from service.dialer.tracking.rows import lock_messages, write
from service.extensions import db
from service.models import CallbackDelivery, CallbackEndpoint
from service.models.types import utcnow
from tests.support.callbacks import callback_settings
from tests.support.factories import sent_message
from tests.support.receiver import Receiver

MAPPING = {"statuses_answered_complete": "ANSWERED_COMPLETE", "statuses_declined": "DECLINED"}
RULES = StateRules(states_mapping=MAPPING)
T0 = datetime(2030, 1, 1, 10, 0, 0, tzinfo=timezone.utc)


@pytest.fixture
def app(make_app, daktela_settings):
    return make_app(sender_backend="daktela", callbacks=callback_settings(),
                    daktela=daktela_settings(states_mapping=MAPPING, timezone="UTC"),
                    batch=BatchConfig(sending=False, size=500))


def subscribe(url="http://127.0.0.1:9/callbacks", **fields):
    """An endpoint for the changes of calls (the messages here are stored already sent: their
    `message.created`, sequence 1, is left out)."""
    fields.setdefault("event_types", ["message.state_changed", "message.final"])
    endpoint = CallbackEndpoint(url=url, secret=callback_settings().signing_secret, **fields)
    db.session.add(endpoint)
    db.session.commit()
    return endpoint


def pending(message_id, action, seconds, statuses=()):
    observation = daktela_observation("webhook", action, statuses, edited=T0 + timedelta(seconds=seconds),
                                      payload={"action": action}, rules=RULES)
    return PendingWebhook(message_id, f"test_{message_id}", observation)


def owed(message_id=None):
    query = select(CallbackDelivery.event_type, CallbackDelivery.previous_state, CallbackDelivery.state,
                   CallbackDelivery.sequence).order_by(CallbackDelivery.id)
    if message_id is not None:
        query = query.where(CallbackDelivery.dialer_message_id == message_id)
    rows = [tuple(row) for row in db.session.execute(query)]
    db.session.commit()
    return rows


def test_a_webhook_group_writes_the_callbacks_of_its_changes_and_not_of_its_repeats(app):
    with app.app_context():
        subscribe()
        first, second = sent_message(content="One").id, sent_message(content="Two").id
        apply_webhooks([pending(first, 3, 1), pending(second, 5, 1, ["statuses_declined"]),
                        pending(first, 5, 2, ["statuses_answered_complete"]), pending(first, 3, 1)])
        assert owed(first) == [("message.state_changed", "READY", "CALL_IN_PROGRESS", 2),
                               ("message.state_changed", "CALL_IN_PROGRESS", "ANSWERED_COMPLETE", 3),
                               ("message.final", "READY", "ANSWERED_COMPLETE", 4)]
        assert owed(second) == [("message.state_changed", "READY", "DECLINED", 2),
                                ("message.final", "READY", "DECLINED", 3)]
        apply_webhooks([pending(second, 5, 1, ["statuses_declined"])])  # a repeat owes nothing
        assert len(owed(second)) == 2


def test_a_final_message_answered_again_owes_no_second_final(app):
    with app.app_context():
        subscribe()
        message_id = sent_message().id
        apply_webhooks([pending(message_id, 5, 1, ["statuses_declined"])])
        apply_webhooks([pending(message_id, 5, 2, ["statuses_answered_complete"])])  # a later final answer
        types = [row[0] for row in owed(message_id)]
        assert types == ["message.state_changed", "message.final", "message.state_changed"]


def test_a_rolled_back_core_write_owes_nothing(app):
    with app.app_context():
        subscribe()
        message_id = sent_message().id
        with pytest.raises(RuntimeError), db.engine.begin() as connection:
            rows = lock_messages(connection, [message_id])
            decision, event = rows[message_id].apply(pending(message_id, 5, 1, ["statuses_declined"]).observation,
                                                     utcnow())
            write(connection, rows.values(), [event])
            assert connection.scalar(select(func.count()).select_from(CallbackDelivery)) == 2
            raise RuntimeError("the transaction dies before its commit")
        assert owed() == []


def test_the_poller_owes_callbacks_for_what_it_applies(app, simulator):
    with app.app_context():
        subscribe(event_types=["message.final"])
        messages = [build_message(f"+4207770{n:05d}", f"Message {n}") for n in range(3)]
        store_and_publish(messages)
        check_dialer_status()
        for message in messages[:2]:
            simulator.simulator.play_call(f"test_{message.id}", action=5, statuses=["statuses_declined"])
        check_dialer_status()
        finals = [row for row in owed() if row[0] == "message.final"]
        assert [(row[1], row[2]) for row in finals] == [("READY", "DECLINED")] * 2


def test_the_cli_delivers_what_is_due(app):
    with Receiver() as receiver:
        with app.app_context():
            subscribe(url=receiver.url, tag="cli")
            sent_message(tag="cli")
            message_id = sent_message(tag="cli").id
            apply_webhooks([pending(message_id, 5, 1, ["statuses_declined"])])
        result = app.test_cli_runner().invoke(args=["dialer", "deliver-callbacks"])
    assert result.exit_code == 0, result.output
    assert "sent 2 callbacks: 2 delivered" in result.output
    assert [json.loads(r.body)["type"] for r in receiver.received] == ["message.state_changed", "message.final"]


def test_the_purge_keeps_dead_letters_and_recent_deliveries(app):
    from service.dialer.callbacks.deliveries import purge_delivered

    with app.app_context():
        subscribe()
        message_id = sent_message().id
        apply_webhooks([pending(message_id, 5, 1, ["statuses_declined"])])
        old, recent = db.session.scalars(select(CallbackDelivery).order_by(CallbackDelivery.id)).all()
        old.status, old.delivered_at = "delivered", utcnow() - timedelta(days=31)
        recent.status, recent.delivered_at = "delivered", utcnow() - timedelta(days=29)
        db.session.commit()
        assert purge_delivered(30) == 1
        assert [d.id for d in db.session.scalars(select(CallbackDelivery))] == [recent.id]


def test_a_dispatcher_killed_mid_send_leaves_a_lease_that_runs_out(app):
    """What `kill -9` leaves behind: a claimed delivery, its lease and no answer recorded."""
    with Receiver() as receiver, app.app_context():
        subscribe(url=receiver.url, event_types=["message.final"])
        message_id = sent_message().id
        apply_webhooks([pending(message_id, 5, 1, ["statuses_declined"])])
        killed = Dispatcher(callback_settings())
        assert len(killed.claim(10)[0]) == 1  # claimed, then the process dies before sending
        killed.transport.close()
        now = utcnow()
        later = Dispatcher(callback_settings(), clock=lambda: now)
        assert later.run().sent == 0  # leased: not sent twice at once
        after_lease = Dispatcher(callback_settings(), clock=lambda: now + later.lease + timedelta(seconds=1))
        report = after_lease.run()
        later.transport.close()
        after_lease.transport.close()
    assert report.delivered == 1 and len(receiver.received) == 1
