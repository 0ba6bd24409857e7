"""`make run`: the web service, the worker and (without DAKTELA_URL) a Daktela simulator.

Every process's output goes to this terminal, prefixed with its name; Ctrl-C
stops them all.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

SIMULATOR_PORT = "5055"
SIMULATOR_TOKEN = "dev-simulator-token"
WEBHOOK_SECRET = "dev-webhook-secret"
# The simulator's outcome statuses, as an administrator would map a real Daktela's.
SIMULATOR_STATES_MAPPING = (
    '{"statuses_answered_complete": "ANSWERED_COMPLETE", "statuses_answered_partial": "ANSWERED_PARTIAL", '
    '"statuses_unreachable": "UNREACHABLE", "statuses_declined": "DECLINED", "statuses_unanswered": "UNANSWERED"}'
)
COLOURS = {"simulator": "35", "worker": "36", "web": "32"}


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
    # `kill` (or a timeout) stops the children too, as Ctrl-C does.
    raise KeyboardInterrupt


def main() -> int:
    signal.signal(signal.SIGTERM, _stop)
    env, with_simulator = _environment()
    python = sys.executable
    flask = [python, "-m", "flask", "--app", "wsgi"]
    # Migrate with the same settings the processes get (a migration may read them).
    os.makedirs("instance", exist_ok=True)
    subprocess.run(flask + ["db", "upgrade"], env=env, check=True)
    commands = {}
    if with_simulator:
        commands["simulator"] = [python, "-m", "daktela_simulator", "--port", SIMULATOR_PORT,
                                 "--token", SIMULATOR_TOKEN, "--autoplay", "5"]
        if env.get("DEV_WEBHOOKS", "on") != "off":
            commands["simulator"] += ["--webhook-url", "http://127.0.0.1:5000/webhooks/daktela",
                                      "--webhook-secret", WEBHOOK_SECRET]
    commands["worker"] = flask + ["dialer", "worker"]
    commands["web"] = flask + ["run", "--host", "127.0.0.1", "--port", "5000"]
    print(f"Dialer service on http://127.0.0.1:5000  (API key: {env['DIALER_API_KEYS'].split(',')[0]})")
    if with_simulator:
        print(f"Daktela simulator on http://127.0.0.1:{SIMULATOR_PORT}: each call plays out within ~10 s; "
              + ("results come by webhook" if env.get("DEV_WEBHOOKS", "on") != "off"
                 else "webhooks off (DEV_WEBHOOKS=off): results come by the poller"))
    processes = {}
    for name, command in commands.items():
        processes[name] = subprocess.Popen(command, env={**env, "PYTHONUNBUFFERED": "1"},
                                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        threading.Thread(target=_pipe, args=(name, processes[name]), daemon=True).start()
        if name == "simulator":
            time.sleep(1)
    try:
        while all(process.poll() is None for process in processes.values()):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for process in processes.values():
            if process.poll() is None:
                # SIGTERM, as a platform stops a dyno (SIGINT is ignored by
                # processes started in the background by a shell).
                process.terminate()
        for process in processes.values():
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
    failed = [name for name, process in processes.items() if process.returncode not in (0, -2, -15, 130)]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
