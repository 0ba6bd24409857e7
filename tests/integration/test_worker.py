"""The worker's scheduler wiring and its CLI."""
from config import BatchConfig, StatusCheckConfig
from service.scheduler import build_scheduler


def test_worker_schedules_publishing_and_purging_safely(make_app):
    app = make_app(batch=BatchConfig(send_interval_seconds=7))
    scheduler = build_scheduler(app)
    jobs = {job.id: job for job in scheduler.get_jobs()}
    # The dummy backend cannot be polled.
    assert set(jobs) == {"publish", "purge-idempotency-keys", "deliver-callbacks", "purge-callbacks"}
    for job in jobs.values():
        assert job.max_instances == 1 and job.coalesce is True
        assert job.name == job.id  # what APScheduler's own log lines call the job
    assert jobs["publish"].trigger.interval.total_seconds() == 7


def test_publish_job_runs_in_an_app_context_and_publishes(make_app, auth):
    app = make_app(batch=BatchConfig(sending=True))
    client = app.test_client()
    created = client.post("/api/v1/messages", headers=auth, json={"recipient": "+420777123456", "content": "x"})
    assert created.json["state"] == "WAITING"
    job = {job.id: job for job in build_scheduler(app).get_jobs()}["publish"]
    job.func()
    assert client.get(f"/api/v1/messages/{created.json['id']}", headers=auth).json["state"] == "DEBUG"


def test_send_batch_command_reports_nothing_to_do(make_app):
    result = make_app().test_cli_runner().invoke(args=["dialer", "send-batch"])
    assert result.exit_code == 0 and result.output.strip() == "published 0 messages"


def test_the_worker_polls_with_the_backends_own_status_check(make_app, daktela_app):
    from tests.support.backends import PollingBackend

    PollingBackend.calls.clear()
    PollingBackend.checks.clear()
    app = make_app(sender_backend="tests.support.backends.PollingBackend", status=StatusCheckConfig(interval_seconds=9))
    jobs = {job.id: job for job in build_scheduler(app).get_jobs()}
    assert jobs["check-status"].trigger.interval.total_seconds() == 9
    assert jobs["check-status"].max_instances == 1 and jobs["check-status"].coalesce is True
    jobs["check-status"].func()
    assert PollingBackend.checks == ["checked"]
    daktela_jobs = {job.id for job in build_scheduler(daktela_app()).get_jobs()}
    assert daktela_jobs == {"publish", "check-status", "purge-idempotency-keys", "take-back",
                           "deliver-callbacks", "purge-callbacks"}


def test_the_deliver_callbacks_job_polls_within_a_second(make_app):
    from config import CallbackConfig

    app = make_app(callbacks=CallbackConfig(poll_seconds=0.5))
    job = {job.id: job for job in build_scheduler(app).get_jobs()}["deliver-callbacks"]
    assert job.trigger.interval.total_seconds() == 0.5
    job.func()  # nothing due: runs in its app context and returns
