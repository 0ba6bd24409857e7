"""DIALER_EVENT_RETENTION_DAYS: the history of final messages goes after the retention period, nothing else."""
from datetime import timedelta

from sqlalchemy import select, update

from config import StatusCheckConfig
from service.dialer.retention import purge_old_events
from service.extensions import db
from service.models import DialerMessage, DialerMessageEvent, DialerMessageState
from service.models.state_machine import transition
from service.models.types import utcnow
from service.scheduler import build_scheduler

S = DialerMessageState


def message_with_history(final: bool, age_days: list[int]) -> int:
    message = DialerMessage(recipient="+420777123456", content="x", state=S.READY, backend="test")
    db.session.add(message)
    db.session.flush()
    for days in age_days:
        db.session.add(DialerMessageEvent(dialer_message_id=message.id, source="poll", old_state="READY",
                                          new_state="READY", created_at=utcnow() - timedelta(days=days)))
    if final:
        transition(message, S.EXPIRED, source="expiry", final=True)
    db.session.commit()
    return message.id


def history(message_id: int) -> int:
    return len(db.session.scalars(select(DialerMessageEvent).where(
        DialerMessageEvent.dialer_message_id == message_id)).all())


def test_old_events_of_final_messages_go_in_batches_and_the_rest_stays(make_app):
    app = make_app(status=StatusCheckConfig(event_retention_days=30))
    with app.app_context():
        finished = message_with_history(final=True, age_days=[40, 35, 31, 29, 1])
        calling = message_with_history(final=False, age_days=[40, 35])
        before = history(finished), history(calling)
        assert purge_old_events(batch=2) == 3
        assert (history(finished), history(calling)) == (before[0] - 3, before[1])
        assert purge_old_events() == 0
        # Once the call is final too, its old events go as well.
        db.session.execute(update(DialerMessage).where(DialerMessage.id == calling).values(is_final_state=True))
        db.session.commit()
        assert purge_old_events() == 2 and history(calling) == 0


def test_without_a_retention_period_the_history_is_kept_and_no_job_runs(make_app):
    app = make_app()
    with app.app_context():
        finished = message_with_history(final=True, age_days=[400])
        assert purge_old_events() == 0 and history(finished) == 2
    assert "purge-events" not in {job.id for job in build_scheduler(app).get_jobs()}
    result = app.test_cli_runner().invoke(args=["dialer", "purge-events"])
    assert result.exit_code == 0 and "nothing deleted" in result.output
    result = app.test_cli_runner().invoke(args=["dialer", "purge-events", "--older-than-days", "365"])
    assert result.exit_code == 0 and result.output.strip() == "deleted 1 events of final messages older than 365 days"
    with app.app_context():
        assert history(finished) == 1  # the EXPIRED event of today stays


def test_the_worker_purges_hourly_when_a_retention_period_is_set(make_app):
    app = make_app(status=StatusCheckConfig(event_retention_days=7))
    job = {job.id: job for job in build_scheduler(app).get_jobs()}["purge-events"]
    assert job.trigger.interval == timedelta(hours=1) and job.max_instances == 1
    with app.app_context():
        finished = message_with_history(final=True, age_days=[8])
    job.func()
    with app.app_context():
        assert history(finished) == 1
