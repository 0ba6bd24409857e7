"""`TEST_DATABASE_URL=… make test` creates a PostgreSQL database that does not exist yet,
and stops with one clear line when its server cannot be reached."""
import os
import re
import subprocess
import sys
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from config import normalize_database_url
from tests.support.processes import ROOT

TINY_TEST = '''
from sqlalchemy import text

from service.extensions import db


def test_the_database_is_ready(app_context):
    assert db.session.execute(text("SELECT current_database()")).scalar() == {name!r}
    assert db.session.execute(text("SELECT count(*) FROM dialer_message")).scalar() == 0
'''


def run_pytest(tmp_path, database_url: str, test_source: str) -> subprocess.CompletedProcess:
    test_file = tmp_path / "test_tiny.py"
    test_file.write_text(test_source)
    env = {**os.environ, "TEST_DATABASE_URL": database_url}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.conftest",
                           "--rootdir", str(ROOT), str(test_file)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_a_missing_postgresql_test_database_is_created(tmp_path, database_url):
    server = make_url(database_url)
    if not server.drivername.startswith("postgresql"):
        pytest.skip("needs a PostgreSQL server (TEST_DATABASE_URL)")
    name = f"test_created_{uuid.uuid4().hex[:12]}"
    maintenance = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        result = run_pytest(tmp_path, server.set(database=name).render_as_string(hide_password=False),
                            TINY_TEST.format(name=name))
        assert result.returncode == 0, result.stdout + result.stderr
        assert "1 passed" in result.stdout
    finally:
        with maintenance.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        maintenance.dispose()


def test_an_unreachable_database_server_stops_the_run_with_one_line(tmp_path):
    url = normalize_database_url("postgresql://postgres:not-shown@127.0.0.1:1/anything")
    result = run_pytest(tmp_path, url, "def test_never_runs():\n    raise AssertionError\n")
    assert result.returncode == pytest.ExitCode.USAGE_ERROR
    output = result.stdout + result.stderr
    assert "TEST_DATABASE_URL (postgresql+psycopg://postgres:***@127.0.0.1:1/anything): cannot connect" in output
    assert "not-shown" not in output
    assert not re.search(r"\b\d+ (passed|failed|errors?) in \d", output), output
