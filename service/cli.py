"""`flask --app wsgi dialer …` commands; each calls a dialer service function."""
import click
from flask import Flask, current_app
from flask.cli import AppGroup

from service.dialer.callbacks.deliveries import purge_delivered
from service.dialer.callbacks.dispatch import Dispatcher
from service.dialer.idempotency import purge_expired_keys
from service.dialer.operators import create_operator
from service.dialer.publishing import publish_due_messages
from service.dialer.retention import purge_old_events
from service.dialer.runtime import dialer_config
from service.dialer.timing.withdrawal import take_back_due_records
from service.dialer.tracking import check_message_states

dialer_cli = AppGroup("dialer", help="Dialer message service commands.")


@dialer_cli.command("worker")
def worker_command() -> None:
    """Run the scheduler: publish queued messages and run the periodic jobs."""
    from service.scheduler import run_worker

    run_worker(current_app._get_current_object(), say=click.echo)


@dialer_cli.command("send-batch")
@click.option("--max-batches", type=int, default=None, help="Stop after this many batches.")
def send_batch_command(max_batches) -> None:
    """Publish the messages that are due now (WAITING, or ERROR_RETRY past its back-off)."""
    click.echo(str(publish_due_messages(max_batches=max_batches)))


@dialer_cli.command("take-back")
def take_back_command() -> None:
    """Remove the provider's records of cancelled and expired messages not yet dialled, once."""
    click.echo(f"took back {take_back_due_records()} messages")


@dialer_cli.command("check-status")
def check_status_command() -> None:
    """Ask the provider about the calls in progress once, and print what was checked and changed."""
    click.echo(str(check_message_states()))


@dialer_cli.command("purge-idempotency-keys")
def purge_idempotency_keys_command() -> None:
    """Delete idempotency keys older than 24 hours."""
    click.echo(f"deleted {purge_expired_keys()} idempotency keys")


@dialer_cli.command("purge-events")
@click.option("--older-than-days", type=click.IntRange(min=1), default=None,
              help="Instead of DIALER_EVENT_RETENTION_DAYS.")
def purge_events_command(older_than_days) -> None:
    """Delete the history of final messages older than the retention period."""
    days = older_than_days or dialer_config().status.event_retention_days
    if not days:
        click.echo("DIALER_EVENT_RETENTION_DAYS is 0 (keep for ever) and no --older-than-days: nothing deleted")
        return
    click.echo(f"deleted {purge_old_events(days)} events of final messages older than {days} days")


@dialer_cli.command("create-operator")
@click.argument("email")
@click.option("--role", type=click.Choice(["viewer", "operator", "admin"]), default="viewer", show_default=True)
@click.option("--timezone", default="Europe/Prague", show_default=True, help="The zone the console shows times in.")
@click.password_option(help="Asked twice when not given; read from standard input when piped.")
def create_operator_command(email, role, timezone, password) -> None:
    """Create a console operator (the password is hashed, never printed or logged)."""
    from service.errors import ServiceError

    try:
        operator = create_operator(email, password, role, timezone)
    except ServiceError as exc:
        details = "; ".join(f"{field}: {' '.join(texts)}" for field, texts in (exc.errors or {}).items())
        raise click.ClickException(f"{exc.message} {details}".strip()) from None
    click.echo(f"created {operator.role.value} {operator.email}")


@dialer_cli.command("deliver-callbacks")
@click.option("--max-batches", type=click.IntRange(min=1), default=None, help="Stop after this many batches.")
def deliver_callbacks_command(max_batches) -> None:
    """Send the status callbacks that are due now, and print what came of them."""
    dispatcher = Dispatcher(dialer_config().callbacks)
    try:
        click.echo(str(dispatcher.run(max_batches=max_batches)))
    finally:
        dispatcher.transport.close()


@dialer_cli.command("purge-callbacks")
def purge_callbacks_command() -> None:
    """Delete callbacks delivered longer ago than DIALER_CALLBACK_RETENTION_DAYS (failed ones are kept)."""
    days = dialer_config().callbacks.retention_days
    click.echo(f"deleted {purge_delivered(days)} callbacks delivered more than {days} days ago")


def register_cli(app: Flask) -> None:
    app.cli.add_command(dialer_cli)
