"""The worker process: APScheduler wiring only; the jobs are dialer service functions.

Run it as its own process (`flask --app wsgi dialer worker`, the Procfile's
`worker:` line), never inside the web server's processes.
"""
from __future__ import annotations

import functools
import logging
import signal
import threading
from datetime import datetime, timezone
from typing import Callable

from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask

from config import CallbackConfig
from service.dialer.callbacks.deliveries import purge_delivered
from service.dialer.callbacks.dispatch import Dispatcher
from service.dialer.idempotency import purge_expired_keys
from service.dialer.publishing import publish_due_messages
from service.dialer.retention import purge_old_events
from service.dialer.runtime import current_backend, dialer_config
from service.dialer.timing.withdrawal import take_back_due_records
from service.dialer.tracking import can_check_message_states, check_message_states
from service.errors import exception_origin

logger = logging.getLogger(__name__)


def _in_app_context(app: Flask, job: Callable[[], object], name: str) -> Callable[[], None]:
    def run() -> None:
        with app.app_context():
            try:
                result = job()
            except Exception as exc:
                # The job runs again at its next interval; the error must not stop the worker.
                logger.error("job %s failed: %s", name, exception_origin(exc))
                return
            if result:
                logger.info("job %s: %s", name, result)

    return run


def build_scheduler(app: Flask, stop: threading.Event | None = None) -> BlockingScheduler:
    """The worker's jobs. Setting `stop` makes a publish run in flight end
    after its current batch (see `run_worker`)."""
    with app.app_context():
        batch, status = dialer_config().batch, dialer_config().status
        callbacks = dialer_config().callbacks
        checks = can_check_message_states()
        can_take_back = current_backend().can_remove_records()
    # APScheduler logs every run at INFO; our jobs log what they did.
    logging.getLogger("apscheduler.executors").setLevel(logging.WARNING)
    scheduler = BlockingScheduler(timezone=timezone.utc)
    common = {"max_instances": 1, "coalesce": True, "replace_existing": True}
    scheduler.add_job(
        _in_app_context(app, functools.partial(publish_due_messages, stop=stop), "publish"), "interval",
        seconds=batch.send_interval_seconds, id="publish", name="publish", next_run_time=datetime.now(timezone.utc),
        **common,
    )
    if can_take_back:
        scheduler.add_job(
            _in_app_context(app, take_back_due_records, "take-back"), "interval",
            seconds=batch.send_interval_seconds, id="take-back", name="take-back", **common,
        )
    if checks:
        scheduler.add_job(
            _in_app_context(app, check_message_states, "check-status"), "interval",
            seconds=status.interval_seconds, id="check-status", name="check-status", **common,
        )
    scheduler.add_job(
        _in_app_context(app, purge_expired_keys, "purge-idempotency-keys"), "interval",
        hours=1, id="purge-idempotency-keys", name="purge-idempotency-keys", **common,
    )
    _add_callback_jobs(app, scheduler, callbacks, stop, common)
    if status.event_retention_days:
        scheduler.add_job(
            _in_app_context(app, purge_old_events, "purge-events"), "interval",
            hours=1, id="purge-events", name="purge-events", **common,
        )
    return scheduler


def _add_callback_jobs(app: Flask, scheduler: BlockingScheduler, callbacks: CallbackConfig,
                       stop: threading.Event | None, common: dict) -> None:
    # One dispatcher for the process: its HTTP connections are kept between runs.
    dispatcher = Dispatcher(callbacks)
    scheduler.add_job(
        _in_app_context(app, functools.partial(dispatcher.run, stop=stop), "deliver-callbacks"), "interval",
        seconds=callbacks.poll_seconds, id="deliver-callbacks", name="deliver-callbacks", **common,
    )
    scheduler.add_job(
        _in_app_context(app, functools.partial(purge_delivered, callbacks.retention_days), "purge-callbacks"),
        "interval", hours=1, id="purge-callbacks", name="purge-callbacks", **common,
    )


def run_worker(app: Flask, say: Callable[[str], object] = print) -> None:
    """Run the jobs until SIGTERM (a platform stopping the dyno) or Ctrl-C,
    then let the jobs in flight finish: a publish run ends after the batch it
    holds, so no message waits out a lease because its worker was stopped."""
    stop = threading.Event()
    scheduler = build_scheduler(app, stop)

    def terminate(signum, frame):
        raise SystemExit(0)

    previous = signal.signal(signal.SIGTERM, terminate)
    say("dialer worker started; Ctrl-C or SIGTERM stops it")
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second one must not cut the wait short
        stop.set()
        say("dialer worker stopping: finishing the jobs in flight")
        scheduler.shutdown(wait=True)
    finally:
        signal.signal(signal.SIGTERM, previous)
    say("dialer worker stopped")
