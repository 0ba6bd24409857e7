"""`make run`: the web service, the worker and (without DAKTELA_URL) a Daktela simulator.

Every process's output goes to this terminal, prefixed with its name; Ctrl-C
stops them all, and so does `kill` of this script or of `make` (the
processes never outlive it). DEV_WEB_PORT (5000) and DEV_SIMULATOR_PORT
(5055) choose the ports.
"""
from __future__ import annotations

import ctypes
import errno
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WEB_PORT = os.environ.get("DEV_WEB_PORT", "5000")
SIMULATOR_PORT = os.environ.get("DEV_SIMULATOR_PORT", "5055")
RECEIVER_PORT = os.environ.get("DEV_RECEIVER_PORT", "5077")
# Development only: signs callbacks sent to a message's own callback_url.
DEV_CALLBACK_SIGNING_SECRET = "whsec_ZGV2LWNhbGxiYWNrLXNpZ25pbmctc2VjcmV0LTAx"
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
SIMULATOR_TOKEN = "dev-simulator-token"
WEBHOOK_SECRET = "dev-webhook-secret"
# The simulator's outcome statuses, as an administrator would map a real Daktela's.
SIMULATOR_STATES_MAPPING = (
    '{"statuses_answered_complete": "ANSWERED_COMPLETE", "statuses_answered_partial": "ANSWERED_PARTIAL", '
    '"statuses_unreachable": "UNREACHABLE", "statuses_declined": "DECLINED", "statuses_unanswered": "UNANSWERED"}'
)
DEV_OPERATOR = ("dev@localhost", "dev-console-password")
COLOURS = {"simulator": "35", "worker": "36", "web": "32", "receiver": "33"}


def _pipe(name: str, process: subprocess.Popen) -> None:
    for line in iter(process.stdout.readline, b""):
        sys.stdout.write(f"\033[{COLOURS[name]}m{name:>9}\033[0m | {line.decode(errors='replace')}")
        sys.stdout.flush()


def _environment() -> tuple[dict, bool]:
    env = dict(os.environ)
    env.setdefault("APP_ENV", "development")
    env.setdefault("DIALER_API_KEYS", "dev-key")
    env.setdefault("DIALER_SEND_INTERVAL_SECONDS", "2")
    env.setdefault("DIALER_CHECK_STATUS_INTERVAL_SECONDS", "10")
    env.setdefault("METRICS_PUBLIC", "true")  # http://127.0.0.1:5000/metrics, on this machine only
    # The callback receiver listens on loopback, which callbacks may reach only when allowed.
    env.setdefault("DIALER_CALLBACK_ALLOW_PRIVATE_NETWORKS", "true")
    env.setdefault("DIALER_CALLBACK_SIGNING_SECRET", DEV_CALLBACK_SIGNING_SECRET)
    with_simulator = not env.get("DAKTELA_URL")
    if with_simulator:
        env.update({
            "DIALER_SENDER_BACKEND": "daktela",
            "DAKTELA_URL": f"http://127.0.0.1:{SIMULATOR_PORT}",
            "DAKTELA_ACCESS_TOKEN": SIMULATOR_TOKEN,
            "DAKTELA_AUTODIALER_RECORD_TYPE": "tts-autodialer",
            "DAKTELA_PREDICTIVE_RECORD_TYPE": "predictive-calls",
            "DAKTELA_WEBHOOK_SECRETS": WEBHOOK_SECRET,
            "DAKTELA_STATES_MAPPING": SIMULATOR_STATES_MAPPING,
            "DAKTELA_TIMEZONE": "UTC",
        })
    return env, with_simulator


def _stop(signum, frame) -> None:
    # `kill` (or a timeout, or the terminal closing) stops the children too, as Ctrl-C does.
    raise KeyboardInterrupt


def _die_with_parent() -> None:
    """On Linux, have the kernel send this process SIGTERM when its parent dies (even by SIGKILL)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _port_in_use(port: str) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", int(port)))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


def _busy_port(with_simulator: bool) -> str | None:
    """One line saying which port this run needs is taken, if one is."""
    ports = {"web": (WEB_PORT, "DEV_WEB_PORT"), "receiver": (RECEIVER_PORT, "DEV_RECEIVER_PORT")}
    if with_simulator:
        ports["simulator"] = (SIMULATOR_PORT, "DEV_SIMULATOR_PORT")
    for name, (port, variable) in ports.items():
        if _port_in_use(port):
            return (f"make run: port {port} ({name}) is in use: is another make run still running? "
                    f"Stop it, or set {variable}.")
    return None


def _commands(env: dict, with_simulator: bool) -> dict[str, list[str]]:
    python = sys.executable
    commands = {}
    if with_simulator:
        commands["simulator"] = [python, "-m", "daktela_simulator", "--port", SIMULATOR_PORT,
                                 "--token", SIMULATOR_TOKEN, "--autoplay", "5"]
        if env.get("DEV_WEBHOOKS", "on") != "off":
            commands["simulator"] += ["--webhook-url", f"http://127.0.0.1:{WEB_PORT}/webhooks/daktela",
                                      "--webhook-secret", WEBHOOK_SECRET]
    commands["worker"] = [python, "-m", "flask", "--app", "wsgi", "dialer", "worker"]
    # The Procfile's web command (gunicorn with gunicorn.conf.py), so development
    # runs the server production runs; its access log masks secrets in URLs.
    web = next(line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("web:"))
    commands["web"] = [python, "-m", *web.partition(":")[2].split(),
                       "--bind", f"127.0.0.1:{WEB_PORT}", "--access-logfile", "-"]
    commands["receiver"] = [python, str(ROOT / "scripts" / "callback_receiver.py"), "--port", RECEIVER_PORT,
                            "--service", f"http://127.0.0.1:{WEB_PORT}",
                            "--api-key", env["DIALER_API_KEYS"].split(",")[0]]
    return commands


def _start(commands: dict[str, list[str]], env: dict, processes: dict[str, subprocess.Popen]) -> None:
    for name, command in commands.items():
        # Each child dies with this script, whatever kills it (Linux).
        processes[name] = subprocess.Popen(command, env={**env, "PYTHONUNBUFFERED": "1"}, cwd=ROOT,
                                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                           preexec_fn=_die_with_parent)
        threading.Thread(target=_pipe, args=(name, processes[name]), daemon=True).start()
        if name == "simulator":
            time.sleep(1)


def _watch(processes: dict[str, subprocess.Popen], parent: int) -> None:
    """Until a process ends, or the parent (make) is gone where the kernel cannot tell (not Linux)."""
    try:
        while all(process.poll() is None for process in processes.values()) and os.getppid() == parent:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass


def _stop_all(processes: dict[str, subprocess.Popen]) -> None:
    # Signals now would interrupt the stopping itself.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    for process in processes.values():
        if process.poll() is None:
            # SIGTERM, as a platform stops a dyno (SIGINT is ignored by
            # processes started in the background by a shell).
            process.terminate()
    for process in processes.values():
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _create_dev_operator(env: dict) -> None:
    """An admin account for the console, once per development database (the password is piped twice)."""
    email, password = DEV_OPERATOR
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "dialer", "create-operator", email,
                             "--role", "admin"], input=f"{password}\n{password}\n", text=True, env=env, cwd=ROOT,
                            capture_output=True)
    if result.returncode and "exists" not in result.stderr:
        print(f"make run: could not create the console's development operator: {result.stderr.strip()}",
              file=sys.stderr)


def main() -> int:
    parent = os.getppid()
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGHUP, _stop)
    _die_with_parent()
    if os.getppid() != parent:
        return 1  # the parent died before the kernel was asked to tell
    env, with_simulator = _environment()
    busy = _busy_port(with_simulator)
    if busy:
        print(busy, file=sys.stderr)
        return 1
    # Migrate with the same settings the processes get (a migration may read them).
    os.makedirs(ROOT / "instance", exist_ok=True)
    if subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"], env=env, cwd=ROOT).returncode:
        print("make run: the database migration failed (above)", file=sys.stderr)
        return 1
    commands = _commands(env, with_simulator)
    _create_dev_operator(env)
    print(f"Dialer service on http://127.0.0.1:{WEB_PORT}  (API key: {env['DIALER_API_KEYS'].split(',')[0]})")
    print(f"Prometheus metrics on http://127.0.0.1:{WEB_PORT}/metrics"
          + ("" if env["METRICS_PUBLIC"].lower() in ("1", "true", "yes", "on") else " (with METRICS_TOKEN)"))
    print(f"Operator console on http://127.0.0.1:{WEB_PORT}/console  "
          f"(sign in as {DEV_OPERATOR[0]}, password {DEV_OPERATOR[1]})")
    if with_simulator:
        print(f"Daktela simulator on http://127.0.0.1:{SIMULATOR_PORT}: each call plays out within ~10 s; "
              + ("results come by webhook" if env.get("DEV_WEBHOOKS", "on") != "off"
                 else "webhooks off (DEV_WEBHOOKS=off): results come by the poller"))
    processes = {}
    # One metrics folder for this run, shared by web and worker, so /metrics counts both.
    metrics_directory = env["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="dialer-metrics-")
    try:
        _start(commands, env, processes)
        _watch(processes, parent)
    except KeyboardInterrupt:
        pass
    finally:
        _stop_all(processes)
        shutil.rmtree(metrics_directory, ignore_errors=True)
    failed = [name for name, process in processes.items() if process.returncode not in (0, -2, -15, 130)]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
