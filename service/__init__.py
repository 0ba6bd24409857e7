"""The dialer message service: `create_app()` builds the Flask application."""
from __future__ import annotations

import logging
from typing import Optional

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine

from config import Config
from service.api import register_blueprints
from service.cli import register_cli
from service.console import register_console
from service.dialer.callbacks.outbox import install_outbox
from service.dialer.runtime import init_dialer
from service.errors import register_error_handlers
from service.extensions import api, db, migrate
from service.log_format import log_handler
from service.log_masking import install_secret_masking
from service.metrics import init_http_metrics
from service.request_ids import init_request_ids, install_log_record_factory
from service.security_headers import init_security_headers


def create_app(config: Optional[Config] = None) -> Flask:
    config = config or Config.from_env()
    app = Flask(__name__, instance_relative_config=True)
    app.config.update(config.flask_settings())
    configure_logging(config)
    register_extensions(app)
    init_request_ids(app)
    init_http_metrics(app)
    init_security_headers(app)
    init_dialer(app, config)
    install_outbox()
    register_blueprints(app)
    register_console(app, secure_cookies=config.is_production)
    register_error_handlers(app)
    register_cli(app)
    return app


def configure_logging(config: Config) -> None:
    # Masking first: the request-id factory then stays the one on top.
    install_secret_masking()
    install_log_record_factory()
    logging.basicConfig(level=config.log_level, handlers=[log_handler(config.log_format)])


def register_extensions(app: Flask) -> None:
    db.init_app(app)
    migrate.init_app(app, db, directory=_migrations_directory(), compare_type=True, render_as_batch=True)
    api.init_app(app, spec_kwargs={"security": [{"bearerAuth": []}]})
    schemes = {
        "bearerAuth": {"type": "http", "scheme": "bearer", "description": "DIALER_API_KEYS"},
        "webhookSecret": {"type": "apiKey", "in": "header", "name": "X-Webhook-Secret",
                          "description": "DAKTELA_WEBHOOK_SECRETS"},
    }
    for name, scheme in schemes.items():
        if name not in api.spec.components.security_schemes:
            api.spec.components.security_scheme(name, scheme)


def _migrations_directory() -> str:
    from pathlib import Path

    return str(Path(__file__).resolve().parent.parent / "migrations")


@event.listens_for(Engine, "connect")
def _enable_sqlite_foreign_keys(dbapi_connection, connection_record) -> None:
    # SQLite ignores ON DELETE CASCADE / SET NULL unless asked per connection.
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        # WAL lets the web process read while the worker writes.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()
