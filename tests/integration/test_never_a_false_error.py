"""A message is final ERROR only when Daktela holds no record of it: before giving up the
backend looks the record up by name; attempts count as they start, so a crash counts too."""
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from config import BatchConfig
from service.dialer import send
from service.dialer.publishing import PUBLISHABLE_STATES, claim_due_messages, publish_due_messages
from service.extensions import db
from service.models import DialerMessage, DialerMessageState
from service.models.types import utcnow

S = DialerMessageState
RECIPIENT = "+420777123456"
FAST = dict(retry_base_seconds=0.01, retry_max_seconds=0.02)


def make_due(message_id):
    db.session.execute(db.update(DialerMessage).where(DialerMessage.id == message_id)
                       .values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()


def reload(message_id):
    db.session.expire_all()
    message = db.session.get(DialerMessage, message_id)
    db.session.commit()
    return message


def turns(message_id, count):
    for _ in range(count):
        make_due(message_id)
        publish_due_messages()
    return reload(message_id)


def test_a_record_created_by_an_attempt_whose_answer_was_lost_is_tracked_not_given_up(daktela_app, simulator):
    sim = simulator.simulator
    sim.inject("lost_after_write", method="POST")  # the record is created; the answer is lost
    sim.inject("truncated", count=5, method="POST")  # every "name already exists" answer is cut
    with daktela_app(batch=BatchConfig(max_number_of_send_attempts=3, **FAST)).app_context():
        message_id = send(RECIPIENT, "Hello").id
        message = turns(message_id, 2)
        assert message.state == S.ERROR_RETRY and message.number_of_send_attempts == 3
        message = turns(message_id, 1)
    assert message.state == S.READY and not message.is_final_state and message.error is None
    assert message.sent_at is not None and message.extra_sender_data["record_name"] == f"test_{message_id}"
    assert message.next_check_at is not None  # tracked by the poller from now on
    assert sim.stats["creates"] == 1 and sim.create_attempts[f"test_{message_id}"] == 3


def test_a_refusal_after_an_attempt_that_may_have_created_the_record_looks_it_up_first(daktela_app, simulator):
    sim = simulator.simulator
    sim.inject("timeout_after_write", method="POST")
    sim.timeout_seconds = 0.6
    sim.inject("400_validation", method="POST")
    with daktela_app(batch=BatchConfig(**FAST)).app_context():
        message_id = send(RECIPIENT, "Hello").id
        assert reload(message_id).state == S.ERROR_RETRY
        message = turns(message_id, 1)
    assert message.state == S.READY and not message.is_final_state


def test_a_refusal_on_the_first_attempt_is_final_at_once(daktela_app, simulator):
    simulator.simulator.inject("400_validation", method="POST")
    with daktela_app(batch=BatchConfig(**FAST)).app_context():
        message = send(RECIPIENT, "Hello")
    assert message.state == S.ERROR and message.is_final_state
    assert [e["method"] for e in simulator.simulator.request_log] == ["POST"]


def test_while_daktela_cannot_be_asked_the_message_stays_in_retry_then_ends_honestly_unknown(
        daktela_app, simulator):
    sim = simulator.simulator
    sim.inject("timeout_after_write", method="POST")
    sim.timeout_seconds = 0.6
    sim.inject("500", count=1000, method="GET")  # every look-up fails
    batch = BatchConfig(max_number_of_send_attempts=1, **FAST)
    with daktela_app(batch=batch).app_context():
        message_id = send(RECIPIENT, "Hello").id
        message = turns(message_id, 3)
        assert message.state == S.ERROR_RETRY and not message.is_final_state
        assert message.next_attempt_at is not None
        # The idle timeout (DIALER_IDLE_MESSAGES_TIMEOUT_MINUTES, a day by default) passes.
        db.session.execute(db.update(DialerMessage).where(DialerMessage.id == message_id)
                           .values(created_at=utcnow() - timedelta(days=1, seconds=1)))
        db.session.commit()
        message = turns(message_id, 1)
    assert message.state == S.ERROR_UPDATE and message.is_final_state
    assert "may exist" in message.error and "Unknown outcome" in message.error
    assert f"test_{message_id}" in sim.records


def test_an_attempt_counts_when_it_starts_so_a_crash_mid_batch_counts(daktela_app, simulator):
    with daktela_app(batch=BatchConfig(sending=True, max_number_of_send_attempts=3, **FAST)).app_context():
        message_id = send(RECIPIENT, "Hello").id
        assert reload(message_id).number_of_send_attempts == 0
        for attempt in (1, 2, 3):
            [claimed] = claim_due_messages(10)
            # The worker is killed here: nothing after the claim is committed.
            db.session.rollback()
            assert reload(message_id).number_of_send_attempts == attempt
            make_due(message_id)  # its lease runs out
        # The message that killed the worker three times is not published a fourth time: its
        # record is looked up, and without one the message gives up.
        publish_due_messages()
        message = reload(message_id)
    assert simulator.simulator.stats["creates"] == 0
    assert message.state == S.ERROR and message.is_final_state and "holds no record" in message.error


@pytest.mark.parametrize("kinds", [["truncated"], ["timeout_after_write"], ["lost_after_write"],
                                   ["truncated", "timeout_after_write", "lost_after_write"]])
def test_under_thirty_percent_lost_answers_a_message_is_error_only_if_daktela_has_no_record(
        daktela_app, simulator, kinds):
    sim = simulator.simulator
    sim.timeout_seconds = 0.6
    sim.retry_after = "0"
    sim.set_fault_rate(0.3, kinds=kinds)
    batch = BatchConfig(sending=True, size=50, **FAST)
    with daktela_app(batch=batch, max_concurrency=16).app_context():
        ids = [send(f"+42077700{n:04d}", f"Message {n}").id for n in range(300)]
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            publish_due_messages()
            db.session.execute(db.update(DialerMessage).where(DialerMessage.state.in_(PUBLISHABLE_STATES))
                               .values(next_attempt_at=utcnow() - timedelta(seconds=1)))
            db.session.commit()
            if not db.session.scalar(select(db.func.count()).where(DialerMessage.state.in_(PUBLISHABLE_STATES))):
                break
        messages = {m.id: m for m in db.session.scalars(select(DialerMessage))}
        db.session.commit()
    assert sim.stats["faults"] >= 90
    assert set(messages) == set(ids)
    for message_id, message in messages.items():
        held = f"test_{message_id}" in sim.records
        if message.state == S.ERROR:
            assert not held, (message_id, message.error)
        else:
            assert held and message.state == S.READY, (message_id, message.state, message.error)
    assert sim.stats["creates"] == len(sim.records)
