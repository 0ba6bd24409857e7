"""Webhooks applied in groups: one transaction for many, each with its own answer and history."""
import random
import threading
from datetime import datetime, timedelta, timezone

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from service.backends.daktela.states import StateRules, daktela_observation
from service.dialer import send
from service.dialer.tracking.groups import PendingWebhook, WebhookResult, apply_webhooks
from service.extensions import db
from service.models import DialerMessage, DialerMessageEvent, DialerMessageState
from service.models.state_machine import apply_observation
from tests.conftest import WEBHOOK_SECRET
from tests.support.factories import sent_message
from tests.support.outcomes import expected_outcome, outcome_view

S = DialerMessageState
MAPPING = {"statuses_answered_complete": "ANSWERED_COMPLETE", "statuses_declined": "DECLINED"}
T0 = datetime(2030, 1, 1, 10, 0, 0, tzinfo=timezone.utc)
RULES = StateRules(states_mapping=MAPPING)


@pytest.fixture
def app(daktela_app):
    return daktela_app(webhook_secrets=(WEBHOOK_SECRET,), states_mapping=MAPPING, timezone="UTC")


def pending(message_id, action, seconds, statuses=(), payload=None):
    observation = daktela_observation("webhook", action, statuses, edited=T0 + timedelta(seconds=seconds),
                                      payload=payload or {"action": action}, rules=RULES)
    return PendingWebhook(message_id, f"test_{message_id}", observation)


def history(message_id):
    return list(db.session.scalars(select(DialerMessageEvent).where(
        DialerMessageEvent.dialer_message_id == message_id).order_by(DialerMessageEvent.id)))


def test_a_group_applies_each_webhook_in_arrival_order_and_answers_each(app):
    with app.app_context():
        first, second = sent_message(content="One").id, sent_message(content="Two").id
        unsent = DialerMessage(recipient="+420777123458", content="x", state=S.WAITING, extra_data={},
                               extra_sender_data={})
        db.session.add(unsent)
        db.session.commit()
        group = [pending(first, 3, 1), pending(second, 5, 1, ["statuses_declined"]),
                 pending(first, 5, 2, ["statuses_answered_complete"]), pending(first, 3, 1),
                 pending(999_999_999, 3, 1), pending(unsent.id, 3, 1)]
        results = apply_webhooks(group)
        assert results == [
            WebhookResult(200, "applied", first, "CALL_IN_PROGRESS"),
            WebhookResult(200, "applied", second, "DECLINED"),
            WebhookResult(200, "applied", first, "ANSWERED_COMPLETE"),
            WebhookResult(200, "ignored", first, "ANSWERED_COMPLETE"),
            WebhookResult(202, "unknown record"),
            WebhookResult(202, "queued for a status check", unsent.id, "WAITING"),
        ]
        db.session.expire_all()
        one, two, three = (db.session.get(DialerMessage, key) for key in (first, second, unsent.id))
        assert (one.state, one.is_final_state) == (S.ANSWERED_COMPLETE, True)
        assert one.last_edited == T0 + timedelta(seconds=2)
        assert one.extra_sender_data["statuses"] == ["statuses_answered_complete"]
        assert (two.state, two.is_final_state) == (S.DECLINED, True)
        assert three.state == S.WAITING and three.needs_status_lookup is True
        assert all(message.last_webhook_at is not None for message in (one, two, three))
        webhook_events = [event for event in history(first) if event.source == "webhook"]
        assert [(e.old_state, e.new_state, e.applied) for e in webhook_events] == [
            ("READY", "CALL_IN_PROGRESS", True), ("CALL_IN_PROGRESS", "ANSWERED_COMPLETE", True),
            ("ANSWERED_COMPLETE", "ANSWERED_COMPLETE", False)]
        assert webhook_events[2].note == "the message is in a final state"


def test_a_webhook_the_database_refuses_fails_alone_and_its_group_is_applied(app):
    with app.app_context():
        good, bad = sent_message(content="One").id, sent_message(content="Two").id
        # A payload the JSON column cannot store makes the group's INSERT fail.
        results = apply_webhooks([pending(good, 3, 1), pending(bad, 3, 1, payload={"x": object()}),
                                      pending(good, 4, 2)])
        assert results[0] == WebhookResult(200, "applied", good, "CALL_IN_PROGRESS")
        assert isinstance(results[1], Exception)
        assert results[2] == WebhookResult(200, "applied", good, "HANGUP")
        db.session.expire_all()
        assert db.session.get(DialerMessage, good).state == S.HANGUP
        refused = db.session.get(DialerMessage, bad)
        assert refused.state == S.READY and refused.last_webhook_at is None
        assert history(bad) == []  # nothing of the refused webhook was written


def test_concurrent_webhooks_over_http_end_as_their_ordered_sequences(app, live_server):
    """Many webhooks at once, duplicated and out of order, across several messages."""
    base_url = live_server(app)
    with app.app_context():
        ids = [send("+420777123456", f"Message {n}").id for n in range(12)]
    rng = random.Random(7)
    sequences = {}
    for message_id in ids:
        steps = [(rng.choice([1, 2, 3, 4, 6]), second) for second in rng.sample(range(1, 60), 5)]
        steps.append((5, rng.randint(1, 60)))
        sequences[message_id] = steps
    bodies = [{"name": f"test_{message_id}", "action": str(action),
               "edited": (T0 + timedelta(seconds=second)).strftime("%Y-%m-%d %H:%M:%S")}
              for message_id, steps in sequences.items() for action, second in steps]
    bodies += rng.sample(bodies, 20)
    rng.shuffle(bodies)
    statuses, lock = [], threading.Lock()

    def deliver(chunk):
        with requests.Session() as session:
            for body in chunk:
                response = session.post(f"{base_url}/webhooks/daktela", json=body,
                                        headers={"X-Webhook-Secret": WEBHOOK_SECRET}, timeout=10)
                with lock:
                    statuses.append(response.status_code)

    threads = [threading.Thread(target=deliver, args=(bodies[n::16],)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert statuses == [200] * len(bodies)
    with app.app_context():
        for message_id, steps in sequences.items():
            expected = DialerMessage(state=S.READY, is_final_state=False, extra_sender_data={}, last_edited=None,
                                     number_of_status_check_attempts=0)
            for action, second in sorted(steps, key=lambda step: step[1]):
                apply_observation(expected, daktela_observation("webhook", action, (), T0 + timedelta(seconds=second),
                                                                rules=RULES))
            stored = db.session.get(DialerMessage, message_id)
            assert (stored.state, stored.is_final_state, stored.last_edited) == (
                expected.state, expected.is_final_state, expected.last_edited), message_id
        recorded = db.session.scalar(select(func.count()).select_from(DialerMessageEvent).where(
            DialerMessageEvent.source == "webhook"))
        assert recorded == len(bodies)


webhook_steps = st.lists(
    st.tuples(st.integers(min_value=0, max_value=6),
              st.sampled_from([(), ("statuses_answered_complete",), ("statuses_declined",), ("statuses_x",)]),
              st.booleans()),
    min_size=1, max_size=8,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=webhook_steps, seed=st.integers(0, 2**32 - 1), duplicates=st.integers(0, 4))
def test_any_grouping_duplication_or_order_of_webhooks_ends_where_the_latest_final_observation_says(app, steps, seed, duplicates):
    """The database path of webhooks (groups, Core writes) ends where the state machine's ordered run ends."""
    nextcall = datetime(2030, 1, 2, 9, 0, tzinfo=timezone.utc)
    ordered = [daktela_observation("webhook", action, statuses, T0 + timedelta(seconds=index),
                                   nextcall if has_nextcall else None, rules=RULES)
               for index, (action, statuses, has_nextcall) in enumerate(steps)]
    rng = random.Random(seed)
    deliveries = ordered + [rng.choice(ordered) for _ in range(duplicates)]
    rng.shuffle(deliveries)
    with app.app_context():
        expected = DialerMessage(state=S.READY, is_final_state=False, extra_sender_data={}, last_edited=None,
                                 number_of_status_check_attempts=0)
        for observation in ordered:
            apply_observation(expected, observation)
        assert outcome_view(expected) == expected_outcome(ordered)
        message_id = sent_message().id
        while deliveries:
            size = rng.randint(1, len(deliveries))
            group, deliveries = deliveries[:size], deliveries[size:]
            outcomes = apply_webhooks(
                [PendingWebhook(message_id, f"test_{message_id}", observation) for observation in group])
            assert all(isinstance(outcome, WebhookResult) for outcome in outcomes)
        stored = db.session.get(DialerMessage, message_id)
        assert outcome_view(stored) == expected_outcome(ordered)
        publish_keys = {"record_name"}
        assert {k: v for k, v in stored.extra_sender_data.items() if k not in publish_keys} == {
            k: v for k, v in expected.extra_sender_data.items() if k not in publish_keys}
