"""`make run` (scripts/dev_run.py): what it started stops with it, however stopped; a port in use stops it;
its metrics count web and worker from one folder, removed when it stops."""
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.support.metrics import Scrape
from tests.support.processes import ROOT, descendants


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.fixture
def dev_environment(tmp_path):
    env = {name: value for name, value in os.environ.items() if not name.startswith(("DAKTELA_", "DIALER_"))}
    return {**env, "DEV_WEB_PORT": str(free_port()), "DEV_SIMULATOR_PORT": str(free_port()),
            "DEV_RECEIVER_PORT": str(free_port()), "DATABASE_URL": f"sqlite:///{tmp_path}/dev.sqlite3", "WEB_CONCURRENCY": "1"}


def wait_until_serving(env: dict, log, parent: subprocess.Popen) -> None:
    """Until the web answers, the simulator listens and the worker has started."""
    deadline = time.monotonic() + 60
    while True:
        assert parent.poll() is None and time.monotonic() < deadline, log.read_text()
        try:
            web = requests.get(f"http://127.0.0.1:{env['DEV_WEB_PORT']}/healthz", timeout=1).status_code == 200
        except requests.RequestException:
            web = False
        if web and not port_is_free(int(env["DEV_SIMULATOR_PORT"])) and "dialer worker started" in log.read_text():
            return
        time.sleep(0.1)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL])
def test_killing_make_run_stops_every_process_it_started(dev_environment, tmp_path, signum):
    log = tmp_path / "make-run.log"
    with open(log, "w") as output:
        # `make run` with this interpreter's environment, its install step taken as done.
        parent = subprocess.Popen(["make", "--no-print-directory", "run", f"BIN={Path(sys.executable).parent}",
                                   "STAMP=/dev/null"], cwd=ROOT, env=dev_environment, stdout=output,
                                  stderr=subprocess.STDOUT)
    started = []
    try:
        wait_until_serving(dev_environment, log, parent)
        assert_dev_operator_signs_in(dev_environment, log.read_text())
        started = descendants(parent.pid)
        assert len(started) >= 4, started  # dev_run.py, the simulator, the worker, gunicorn (and its worker)
        parent.send_signal(signum)
        parent.wait(10)
        deadline = time.monotonic() + 30
        while descendants_alive(started):
            assert time.monotonic() < deadline, (descendants_alive(started), log.read_text())
            time.sleep(0.1)
    finally:
        for pid in descendants_alive(started or descendants(parent.pid)):
            os.kill(pid, signal.SIGKILL)
        parent.kill()
        parent.wait()
    assert port_is_free(int(dev_environment["DEV_WEB_PORT"]))
    assert port_is_free(int(dev_environment["DEV_SIMULATOR_PORT"]))


def assert_dev_operator_signs_in(env: dict, printed: str) -> None:
    """make run printed the console's address and an operator's credentials, and they sign in."""
    import re

    found = re.search(r"Operator console on (\S+)  \(sign in as (\S+), password (\S+)\)", printed)
    assert found, printed
    console, email, password = found.groups()
    assert console == f"http://127.0.0.1:{env['DEV_WEB_PORT']}/console"
    with requests.Session() as browser:
        form = browser.get(f"{console}/sign-in", timeout=5).text
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form).group(1)
        signed_in = browser.post(f"{console}/sign-in", data={"csrf_token": token, "email": email,
                                                            "password": password}, allow_redirects=False, timeout=5)
    assert signed_in.status_code == 303 and signed_in.headers["Location"].endswith("/console/")


def descendants_alive(pids: list[int]) -> list[int]:
    alive = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                if stat.read().rpartition(")")[2].split()[0] != "Z":
                    alive.append(pid)
        except FileNotFoundError:
            pass
    return alive


def test_a_port_in_use_stops_make_run_with_one_line_naming_it(dev_environment):
    port = int(dev_environment["DEV_WEB_PORT"])
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        run = subprocess.run([sys.executable, "scripts/dev_run.py"], cwd=ROOT, env=dev_environment,
                             capture_output=True, text=True, timeout=60)
    assert run.returncode == 1
    lines = (run.stdout + run.stderr).strip().splitlines()
    assert len(lines) == 1 and f"port {port} (web) is in use" in lines[0], lines


def test_make_run_serves_metrics_of_web_and_worker_from_one_folder_removed_at_the_end(dev_environment, tmp_path):
    log = tmp_path / "make-run.log"
    with open(log, "w") as output:
        parent = subprocess.Popen([sys.executable, "scripts/dev_run.py"], cwd=ROOT, env=dev_environment,
                                  stdout=output, stderr=subprocess.STDOUT)
    try:
        wait_until_serving(dev_environment, log, parent)
        port = dev_environment["DEV_WEB_PORT"]
        response = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10)  # public in development
        assert response.status_code == 200
        assert f"Prometheus metrics on http://127.0.0.1:{port}/metrics" in log.read_text()
        folder = Path(re.search(r"Metrics folder of this run: (\S+)", log.read_text()).group(1))
        # A file per process that loaded the service: the web command's worker and the worker process.
        writers = {re.search(r"_(\d+)\.db$", path.name).group(1) for path in folder.glob("counter_*.db")}
        assert len(writers) == 2, writers
    finally:
        parent.send_signal(signal.SIGTERM)
        parent.wait(30)
    assert Scrape(response.text).has("dialer_backlog_messages", state="WAITING")
    assert not folder.exists()


def test_make_runs_receiver_gets_each_status_callback_of_a_message_verified(dev_environment, tmp_path):
    log = tmp_path / "make-run.log"
    with open(log, "w") as output:
        parent = subprocess.Popen([sys.executable, "scripts/dev_run.py"], cwd=ROOT, env=dev_environment,
                                  stdout=output, stderr=subprocess.STDOUT)
    try:
        wait_until_serving(dev_environment, log, parent)
        deadline = time.monotonic() + 30
        while "callback receiver on" not in log.read_text():
            assert parent.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        sent = requests.post(f"http://127.0.0.1:{dev_environment['DEV_WEB_PORT']}/api/v1/messages", timeout=10,
                             headers={"Authorization": "Bearer dev-key"},
                             json={"recipient": "+420777123456", "content": "Hello from make run"}).json()
        final = f"VERIFIED message.final #{sent['id']} "
        deadline = time.monotonic() + 60
        while final not in log.read_text():
            assert parent.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        verified = [line.partition("VERIFIED ")[2] for line in log.read_text().splitlines()
                    if "VERIFIED message." in line and f" #{sent['id']} " in line]
    finally:
        parent.terminate()
        parent.wait(30)
    assert "NOT VERIFIED" not in log.read_text()
    assert verified[0].startswith(f"message.created #{sent['id']} seq 1: WAITING")
    assert [line.split()[0] for line in verified] == (
        ["message.created"] + ["message.state_changed"] * (len(verified) - 2) + ["message.final"])
    assert "CALL_IN_PROGRESS" in " ".join(verified)
