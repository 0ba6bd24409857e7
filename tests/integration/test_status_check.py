"""The fallback poller against the simulator: change feed, look-ups, failures, deadline."""
import os
from datetime import timedelta

import pytest

from config import BatchConfig
from service.dialer.sending import build_message, store_and_publish
from service.dialer.tracking.poll import check_dialer_status
from service.extensions import db
from service.infrastructure.locks import exclusive_run
from service.models import DialerMessage, DialerMessageState
from service.models.types import utcnow

S = DialerMessageState
MAPPING = {"statuses_answered_complete": "ANSWERED_COMPLETE", "statuses_declined": "DECLINED"}


@pytest.fixture
def app(daktela_app):
    return daktela_app(states_mapping=MAPPING, timezone="UTC",
                       batch=BatchConfig(sending=False, size=500))


def publish(count):
    """Publish `count` messages through the Daktela backend; returns their ids."""
    messages = [build_message(f"+4207770{n:05d}", f"Message {n}") for n in range(count)]
    store_and_publish(messages)
    assert {m.state for m in messages} == {S.READY}
    return [m.id for m in messages]


def make_due(**values):
    db.session.query(DialerMessage).update({"next_check_at": utcnow() - timedelta(seconds=1), **values})
    db.session.commit()


def states(ids):
    db.session.expire_all()
    found = {m.id: m for m in db.session.query(DialerMessage).filter(DialerMessage.id.in_(ids))}
    db.session.commit()
    return [found[i] for i in ids]


def test_first_run_follows_the_feed_from_the_oldest_sending_then_the_feed_costs_what_changed(app, simulator):
    sim = simulator.simulator
    with app.app_context():
        ids = publish(450)
        requests_before = sim.stats["requests"]
        first = check_dialer_status()
        assert first.requests == 1  # one feed page from the oldest pending message's sending
        assert sim.stats["requests"] - requests_before == first.requests
        assert first.records_seen == 450 and first.unchanged == 450 and first.applied == first.ignored == 0
        changed = ids[::10]
        for message_id in changed:
            sim.play_call(f"test_{message_id}", action=5, statuses=["statuses_declined"])
        second = check_dialer_status()
        assert second.requests == 1  # one feed page: the 45 changed records (and those in the overlap)
        assert second.applied == 45 and second.ignored == 0 and second.unchanged == second.records_seen - 45
        finished = states(ids)
        assert {m.id for m in finished if m.is_final_state} == set(changed)
        assert {m.state for m in finished if m.is_final_state} == {S.DECLINED}
        assert all(m.state == S.READY and m.needs_status_lookup is False for m in finished if not m.is_final_state)


def test_the_feed_follows_daktelas_clock_with_an_overlap(app, simulator):
    sim = simulator.simulator
    with app.app_context():
        [message_id] = publish(1)
        check_dialer_status()
        sim.play_call(f"test_{message_id}", action=3)
        check_dialer_status()
        feed = [e for e in sim.request_log if "edited" in e["query"]]
        assert feed and "filter%5Bfilters%5D%5B1%5D%5Boperator%5D=gte" in feed[-1]["query"]
        assert "sort%5B0%5D%5Bfield%5D=edited" in feed[-1]["query"]
        assert states([message_id])[0].state == S.CALL_IN_PROGRESS


def test_failed_checks_count_without_touching_the_state_then_end_in_error_update(app, simulator):
    sim = simulator.simulator
    with app.app_context():
        [message_id] = publish(1)
        check_dialer_status()
        for attempt in range(1, 5):
            sim.inject("500", method="GET")
            make_due()
            report = check_dialer_status()
            [message] = states([message_id])
            assert report.failed_checks == 1 and "500" in report.errors[0]
            assert message.state == S.READY and not message.is_final_state
            assert message.number_of_status_check_attempts == attempt
            assert message.error.startswith("Status check failed: Daktela answered 500")
        make_due()
        check_dialer_status()
        assert states([message_id])[0].number_of_status_check_attempts == 0
        for _ in range(5):
            sim.inject("garbage", method="GET")
            make_due()
            check_dialer_status()
        [message] = states([message_id])
    assert message.state == S.ERROR_UPDATE and message.is_final_state
    assert message.error.startswith("5 status checks failed; the last: Daktela answered 200 with an unreadable body")


def test_a_record_daktela_does_not_have_is_error_update_once_looked_up(app, simulator):
    with app.app_context():
        gone, kept = publish(2)
        simulator.simulator.delete(f"test_{gone}")
        # A webhook hint Daktela could not answer at the time queued both for a direct look.
        make_due(needs_status_lookup=True)
        report = check_dialer_status()
        lost, fine = states([gone, kept])
    assert lost.state == S.ERROR_UPDATE and lost.is_final_state
    assert lost.error == f"Daktela has no record named test_{gone} (404)."
    assert fine.state == S.READY and not fine.is_final_state and fine.needs_status_lookup is False
    assert report.requests == 2  # the feed, then one look-up of both names


def test_messages_without_a_final_answer_expire(app, simulator):
    with app.app_context():
        old, recent = publish(2)
        db.session.query(DialerMessage).filter_by(id=old).update({"sent_at": utcnow() - timedelta(minutes=1441)})
        db.session.commit()
        report = check_dialer_status()
        expired, waiting = states([old, recent])
    assert report.expired == 1
    assert expired.state == S.EXPIRED and expired.is_final_state
    assert expired.error == "No final answer from Daktela within 1440 minutes of sending."
    assert waiting.state == S.READY


def test_a_rescheduled_message_is_not_looked_up_before_its_next_call(app, simulator):
    sim = simulator.simulator
    with app.app_context():
        [message_id] = publish(1)
        check_dialer_status()
        later = (utcnow() + timedelta(hours=2)).strftime("%Y-%m-%d %H:%M:%S")
        sim.play_call(f"test_{message_id}", action=6, nextcall=later)
        check_dialer_status()
        [message] = states([message_id])
        assert message.state == S.RESCHEDULED and message.nextcall_at is not None
        db.session.query(DialerMessage).update({"needs_status_lookup": True})
        db.session.commit()
        sim.request_log.clear()
        report = check_dialer_status()
        assert report.requests == 1 and len(sim.request_log) == 1  # the feed only, no look-up
        assert "operator%5D=in" not in sim.request_log[0]["query"]


def test_one_odd_record_does_not_stop_the_others(app, simulator):
    sim = simulator.simulator
    with app.app_context():
        odd, unmapped, good = publish(3)
        check_dialer_status()
        sim.update(f"test_{odd}", {"action": "garbage"})
        sim.play_call(f"test_{unmapped}", action=5, statuses=["statuses_unknown_to_us"])
        sim.play_call(f"test_{good}", action=5, statuses=["statuses_answered_complete"])
        check_dialer_status()
        odd_message, unmapped_message, good_message = states([odd, unmapped, good])
    assert good_message.state == S.ANSWERED_COMPLETE
    assert unmapped_message.state == S.DONE and unmapped_message.is_final_state
    assert odd_message.state == S.READY


def test_webhooks_off_the_poller_still_brings_the_final_answer(app, simulator, auth):
    client = app.test_client()
    created = client.post("/api/v1/messages", headers=auth, json={"recipient": "+420777123456", "content": "x"}).json
    simulator.simulator.play_call(f"test_{created['id']}", action=5, statuses=["statuses_answered_complete"])
    result = app.test_cli_runner().invoke(args=["dialer", "check-status"])
    assert result.exit_code == 0 and "checked:" in result.output
    assert client.get(f"/api/v1/messages/{created['id']}", headers=auth).json["state"] == "ANSWERED_COMPLETE"


def test_the_dummy_backend_cannot_be_polled(make_app):
    result = make_app().test_cli_runner().invoke(args=["dialer", "check-status"])
    assert result.exit_code != 0 and "cannot check message states" in str(result.exception)


@pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="the advisory lock is PostgreSQL's")
def test_a_second_poller_skips_while_one_runs(app, simulator):
    with app.app_context():
        publish(1)
        with exclusive_run("check-dialer-status") as held:
            assert held
            report = check_dialer_status()
        assert report.skipped and report.requests == 0
        assert check_dialer_status().skipped is False


def test_a_message_a_webhook_just_spoke_for_is_not_counted_as_a_failed_check(app, simulator):
    with app.app_context():
        heard, silent = publish(2)
        check_dialer_status()
        make_due()
        db.session.query(DialerMessage).filter_by(id=heard).update({"last_webhook_at": utcnow()})
        db.session.commit()
        simulator.simulator.inject("500", method="GET")
        report = check_dialer_status()
        heard_message, silent_message = states([heard, silent])
    assert report.failed_checks == 1
    assert heard_message.number_of_status_check_attempts == 0
    assert silent_message.number_of_status_check_attempts == 1


def test_the_console_dashboard_shows_when_the_poller_last_ran_and_what_it_found(app, simulator):
    from service.dialer.operators import create_operator
    from tests.support.console import PASSWORD, sign_in

    with app.app_context():
        ids = publish(4)
        check_dialer_status()
        simulator.simulator.play_call(f"test_{ids[0]}", action=5, statuses=["statuses_declined"])
        report = check_dialer_status()
        create_operator("viewer@example.com", PASSWORD, "viewer")
    assert report.applied == 1
    client = app.test_client()
    sign_in(client, "viewer@example.com")
    page = client.get("/console/").text
    line = page[page.index('id="last-check"'):].split("</p>")[0]
    assert (f"{report.requests} requests to the provider, {report.records_seen} records seen, "
            "1 changes applied, 0 expired, 0 failed checks, 0 errors") in line


def test_records_that_carry_nothing_new_never_wait_for_a_row_lock_and_changed_ones_do(app, simulator):
    """The skip happens before any lock: while another transaction holds every message's row,
    a page of unchanged records is read and skipped at once; a changed record waits for the rows."""
    import threading

    from sqlalchemy import select

    from service.dialer.runtime import current_backend
    from service.dialer.tracking.accounting import CheckReport
    from service.dialer.tracking.apply import apply_records
    from service.infrastructure.locks import lock_rows

    sim = simulator.simulator
    with app.app_context():
        ids = publish(20)
        check_dialer_status()
        backend = current_backend()
        names = [backend.record_name_for(message_id) for message_id in ids]

        def apply_page(report):
            with app.app_context():
                apply_records(backend, backend.look_up_records(names).values(), "poll", report)

        holder = db.engine.connect()
        transaction = holder.begin()
        try:
            lock_rows(holder, select(DialerMessage.id).with_for_update())  # every row, or SQLite's writer lock
            unchanged = CheckReport()
            skipping = threading.Thread(target=apply_page, args=(unchanged,))
            skipping.start()
            skipping.join(timeout=30)
            assert not skipping.is_alive() and unchanged.unchanged == 20 and unchanged.applied == 0
            sim.play_call(names[0], action=5, statuses=["statuses_declined"])
            changed = CheckReport()
            applying = threading.Thread(target=apply_page, args=(changed,))
            applying.start()
            applying.join(timeout=1)
            assert applying.is_alive(), "a changed record must wait for its row"
        finally:
            transaction.rollback()
            holder.close()
        applying.join(timeout=30)
        assert not applying.is_alive() and changed.applied == 1 and changed.unchanged == 19
        assert states(ids[:1])[0].state == S.DECLINED
