"""Fixtures: a real database (SQLite file, or PostgreSQL via TEST_DATABASE_URL)."""
from __future__ import annotations

import os

import pytest

from config import Config, normalize_database_url
from service import create_app
from service.extensions import db

API_KEY = "test-key-1"
OTHER_API_KEY = "test-key-2"


def ensure_database(url: str) -> bool:
    """Create the PostgreSQL database `url` names when it does not exist (through
    the server's `postgres` maintenance database); True when it was created."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import OperationalError, ProgrammingError

    target = make_url(normalize_database_url(url))
    if not target.drivername.startswith("postgresql"):
        return False
    maintenance = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with maintenance.connect() as connection:
            if connection.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": target.database}):
                return False
            quoted = maintenance.dialect.identifier_preparer.quote(target.database)
            try:
                connection.execute(text(f"CREATE DATABASE {quoted}"))
            except ProgrammingError:  # created meanwhile by another run
                return False
            return True
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        raise DatabaseUnavailable(
            f"TEST_DATABASE_URL ({make_url(url).render_as_string(hide_password=True)}): cannot connect: {reason}"
        ) from None
    finally:
        maintenance.dispose()


class DatabaseUnavailable(Exception):
    """The test database's server cannot be reached; the message is one line."""


def pytest_sessionstart(session):
    url = os.environ.get("TEST_DATABASE_URL", "").strip()
    if not url:
        return
    # One clear line instead of an error per test when the database is missing or unreachable.
    try:
        ensure_database(url)
    except DatabaseUnavailable as exc:
        pytest.exit(str(exc), returncode=pytest.ExitCode.USAGE_ERROR)


def pytest_report_header(config):
    if os.environ.get("TEST_DATABASE_URL", "").strip():
        return "database: TEST_DATABASE_URL (PostgreSQL)"
    return "database: SQLite (a temporary file)"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    url = os.environ.get("TEST_DATABASE_URL", "").strip()
    if url:
        return normalize_database_url(url)
    return f"sqlite:///{tmp_path_factory.mktemp('db')}/test.sqlite3"


@pytest.fixture(scope="session")
def make_config(database_url):
    def make(**overrides) -> Config:
        values = dict(
            database_url=database_url,
            secret_key="test-secret",
            app_env="testing",
            api_keys=(API_KEY, OTHER_API_KEY),
            sender_backend="dummy",
        )
        values.update(overrides)
        return Config(**values)

    return make


@pytest.fixture(scope="session")
def _schema(make_config):
    app = create_app(make_config())
    with app.app_context():
        db.drop_all()
        db.create_all()
        db.session.remove()
        db.engine.dispose()
    yield


@pytest.fixture
def make_app(make_config, _schema):
    """Build an app with config overrides; tables are emptied after the test."""
    apps = []

    def make(**overrides):
        app = create_app(make_config(**overrides))
        apps.append(app)
        return app

    yield make
    for app in apps:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    with create_app(make_config()).app_context():
        for table in reversed(db.metadata.sorted_tables):
            db.session.execute(table.delete())
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def app_context(app):
    with app.app_context():
        yield app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def auth():
    return {"Authorization": f"Bearer {API_KEY}"}


@pytest.fixture
def api(client, auth):
    """Call the API as an authenticated client: api.post(path, json=...)."""

    class Api:
        def request(self, method, path, headers=None, **kwargs):
            return client.open(path, method=method, headers={**auth, **(headers or {})}, **kwargs)

        def get(self, path, **kwargs):
            return self.request("GET", path, **kwargs)

        def post(self, path, **kwargs):
            return self.request("POST", path, **kwargs)

        def put(self, path, **kwargs):
            return self.request("PUT", path, **kwargs)

        def delete(self, path, **kwargs):
            return self.request("DELETE", path, **kwargs)

    return Api()


SIMULATOR_TOKEN = "simulator-token-0123456789abcdef"


@pytest.fixture
def simulator():
    """A Daktela simulator on a free loopback port."""
    from daktela_simulator import Simulator, SimulatorServer

    server = SimulatorServer(Simulator(access_tokens=[SIMULATOR_TOKEN], timeout_seconds=1.0))
    with server:
        yield server


@pytest.fixture
def daktela_settings(simulator):
    from config import DaktelaConfig

    def make(**overrides):
        values = dict(url=simulator.url, access_token=SIMULATOR_TOKEN,
                      autodialer_record_type="tts-autodialer", predictive_record_type="predictive-calls",
                      timeout_seconds=0.5, record_name_prefix="test_")
        values.update(overrides)
        return DaktelaConfig(**values)

    return make


@pytest.fixture
def daktela_app(make_app, daktela_settings):
    """An app whose backend is the real Daktela backend, talking to the simulator."""
    from config import BatchConfig

    def make(batch=None, **daktela_overrides):
        return make_app(sender_backend="daktela", daktela=daktela_settings(**daktela_overrides),
                        batch=batch or BatchConfig(retry_base_seconds=0.01, retry_max_seconds=0.02))

    return make


WEBHOOK_SECRET = "webhook-secret-1"


@pytest.fixture
def live_server():
    """Serve an app over real HTTP on a free loopback port: live_server(app) -> base URL."""
    import threading

    from waitress.server import create_server

    servers = []

    def start(app):
        server = create_server(app, host="127.0.0.1", port=0, threads=8)
        threading.Thread(target=server.run, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.effective_port}"

    yield start
    for server in servers:
        server.close()
