"""The Alembic revisions build exactly the models' schema, and undo it."""
import os
import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from service import create_app
from service.extensions import db


@pytest.fixture
def empty_database_url(tmp_path):
    """A database with no tables: a new SQLite file, or a new PostgreSQL database."""
    server_url = os.environ.get("TEST_DATABASE_URL", "").strip()
    if not server_url:
        yield f"sqlite:///{tmp_path}/migrations.sqlite3"
        return
    from config import normalize_database_url

    url = make_url(normalize_database_url(server_url))
    name = f"dialer_migrations_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_upgrade_matches_the_models_and_downgrade_removes_everything(make_config, empty_database_url):
    app = create_app(make_config(database_url=empty_database_url))
    with app.app_context():
        upgrade()
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, db.metadata)
            tables = set(inspect(connection).get_table_names())
        assert differences == []
        assert tables == {"alembic_version", *db.metadata.tables}
        downgrade(revision="base")
        with db.engine.connect() as connection:
            assert set(inspect(connection).get_table_names()) <= {"alembic_version"}
        db.engine.dispose()


def test_stored_edited_times_move_from_daktela_local_time_to_utc_and_back(make_config, empty_database_url):
    from datetime import datetime

    from config import DaktelaConfig

    app = create_app(make_config(database_url=empty_database_url, daktela=DaktelaConfig(timezone="Europe/Prague")))
    local = [datetime(2026, 7, 1, 12, 0, 0), datetime(2026, 12, 1, 12, 0, 0), None]  # summer, winter, none
    with app.app_context():
        upgrade(revision="0004")
        with db.engine.begin() as connection:
            for n, edited in enumerate(local, start=1):
                connection.execute(text(
                    "INSERT INTO dialer_message (id, recipient, content, state, extra_data, extra_sender_data,"
                    " is_final_state, priority, is_autodialer, number_of_send_attempts,"
                    " number_of_status_check_attempts, created_at, changed_at, needs_status_lookup, last_edited)"
                    " VALUES (:id, '+420777123456', 'x', 'READY', '{}', '{}', false, 3, true, 1, 0,"
                    " :now, :now, false, :edited)"), {"id": n, "now": datetime(2026, 1, 1), "edited": edited})

        def stored():
            from sqlalchemy import DateTime, column, select, table

            messages = table("dialer_message", column("id"), column("last_edited", DateTime()))
            with db.engine.connect() as connection:
                return list(connection.scalars(select(messages.c.last_edited).order_by(messages.c.id)))

        upgrade()
        assert stored() == [datetime(2026, 7, 1, 10, 0, 0), datetime(2026, 12, 1, 11, 0, 0), None]
        downgrade(revision="0004")
        assert stored() == local
        downgrade(revision="base")
        db.engine.dispose()
