"""`flask --app wsgi dialer …` commands; each calls a dialer service function."""
import click
from flask import Flask
from flask.cli import AppGroup

from service.dialer.idempotency import purge_expired_keys

dialer_cli = AppGroup("dialer", help="Dialer message service commands.")


@dialer_cli.command("purge-idempotency-keys")
def purge_idempotency_keys_command() -> None:
    """Delete idempotency keys older than 24 hours."""
    click.echo(f"deleted {purge_expired_keys()} idempotency keys")


def register_cli(app: Flask) -> None:
    app.cli.add_command(dialer_cli)
