"""Running the Procfile's commands as real processes in tests."""
import os
import sys
from pathlib import Path

from tests.conftest import SIMULATOR_TOKEN

ROOT = Path(__file__).resolve().parent.parent.parent


def procfile_command(process: str) -> list[str]:
    """The Procfile's command for `process` (web, worker), run with this interpreter."""
    line = next(line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith(f"{process}:"))
    command = line.partition(":")[2].split()
    assert command[0] in ("gunicorn", "flask"), command
    return [sys.executable, "-m", *command]


def service_environment(database_url: str, simulator_url: str, **settings: str) -> dict[str, str]:
    """A production environment for the service against the simulator, plus `settings`."""
    return {**os.environ, "APP_ENV": "production", "SECRET_KEY": "test", "DIALER_API_KEYS": "k",
            "DATABASE_URL": database_url, "DIALER_SENDER_BACKEND": "daktela", "DAKTELA_URL": simulator_url,
            "DAKTELA_ACCESS_TOKEN": SIMULATOR_TOKEN, "DAKTELA_AUTODIALER_RECORD_TYPE": "tts-autodialer",
            "DAKTELA_RECORD_NAME_PREFIX": "test_", **settings}
