"""gunicorn settings for the web process; `gunicorn wsgi:app` (the Procfile's web command, and `make run`'s)
reads this file from the working directory.

gevent workers, because a connection then costs a greenlet, not a thread:
with threads (gthread, 16 a process) 1,000 clients sending their headers
slowly, or a few that keep their connection open after the answer, left no
thread for anyone else and /healthz went unanswered (bench/RESULTS.md, "Slow
and lingering clients", has the figures, and the webhook throughput that
stayed the same). gunicorn's gevent worker monkey-patches the standard
library in the web processes only (the worker process, APScheduler, keeps
real threads), so the locks with which webhooks arriving together share one
transaction (service/infrastructure/group_commit.py) and the connection pool's become
gevent's, and psycopg 3 waits cooperatively once it sees select patched. The
price: a request that computes for long holds up the other requests of its
process (template rendering is bounded for that reason too).
gunicorn itself reads WEB_CONCURRENCY (processes, as Heroku sets it) and PORT.

Metrics: every worker writes its Prometheus values to files in
PROMETHEUS_MULTIPROC_DIR, which a scrape of /metrics adds up (service/metrics.py).
Without one given, each run of the server makes a new, empty folder and
removes it when it stops. This file imports nothing of the service: the
master must not load prometheus-client before that folder is chosen.
"""
import errno
import os
import shutil
import socket
import sys
import tempfile

from gunicorn.glogging import Logger
from gunicorn.http import wsgi

worker_class = "gevent"
# Connections one process holds at once, idle ones included (gunicorn's default).
worker_connections = 1000
# Each process listens on its own socket and the kernel spreads new
# connections across them; with one shared socket a single process can
# accept most kept-alive connections of a burst and leave the others idle
# (webhooks, gevent: 745 requests/s with a shared socket against 906 with a
# socket each, medians of 4 in one run). The price: connections still queued
# on a restarting worker's socket are reset, and a second server could bind
# the same port too, which on_starting refuses.
reuse_port = True

SECRET_HEADERS = ("{authorization}i", "{x-webhook-secret}i", "{cookie}i")


class AccessLogger(Logger):
    """gunicorn's logger, but secret headers never reach an access log line, should a
    log format name them. (Secret query values, such as a webhook secret sent as
    ?token=, are masked in every log record by the record factory the app installs
    in each worker, service/log_masking.py, this logger's records included.)"""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for name in SECRET_HEADERS:
            if name in atoms:
                atoms[name] = "***"
        return atoms

    def setup(self, cfg):
        super().setup(cfg)
        if os.environ.get("LOG_FORMAT", "").strip().lower() == "json":
            # The app's own lines are JSON then (service/log_format.py): gunicorn's are too.
            from pythonjsonlogger.json import JsonFormatter

            for handler in self.error_log.handlers + self.access_log.handlers:
                handler.setFormatter(JsonFormatter(("asctime", "levelname", "name", "message"),
                                                   rename_fields={"asctime": "time", "levelname": "level",
                                                                  "name": "logger"}))


logger_class = AccessLogger


def _without_server_banner(default_headers):
    def headers(response):
        return [line for line in default_headers(response) if not line.startswith("Server:")]

    headers.without_server_banner = True
    return headers


# gunicorn has no setting for it: the Server header would tell a caller which
# server (and so which known flaws) to try.
if not getattr(wsgi.Response.default_headers, "without_server_banner", False):
    wsgi.Response.default_headers = _without_server_banner(wsgi.Response.default_headers)


def _address_in_use(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As gunicorn binds: a port left in TIME_WAIT by a stopped server is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


_created_metrics_directory = None


def _prepare_metrics_directory() -> None:
    """The folder the workers write their metrics to: the one given, else a new one for this run."""
    global _created_metrics_directory
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "").strip()
    if given:
        os.makedirs(given, exist_ok=True)
        return
    _created_metrics_directory = tempfile.mkdtemp(prefix="dialer-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = _created_metrics_directory


def on_starting(server):
    """Set up the metrics folder, and stop at once, in one line, when a port to listen on
    is taken (gunicorn alone retries five times, logging three lines each time)."""
    _prepare_metrics_directory()
    server.log.info("Metrics folder of this run: %s", os.environ["PROMETHEUS_MULTIPROC_DIR"])
    if os.environ.get("GUNICORN_FD") or os.environ.get("LISTEN_FDS"):
        return  # re-executed or socket-activated: the sockets are already ours
    for address in server.cfg.address:
        if isinstance(address, tuple) and _address_in_use(*address):
            server.log.error("Port %s is in use (%s:%s): is another server running? Stop it or set PORT.",
                             address[1], address[0] or "*", address[1])
            sys.exit(1)


def _url(address) -> str:
    if isinstance(address, tuple):
        host, port = address
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
    return f"unix:{address}"


def when_ready(server):
    """Name the address: with a socket per worker, gunicorn's own "Listening at" line names none."""
    if server.cfg.reuse_port:
        server.log.info("Listening at: %s (a socket per worker)", ",".join(_url(a) for a in server.cfg.address))


def pre_request(worker, req):
    """A body over the app's limit is answered 413 without being read: close the connection
    after that answer, or the unread body would be taken for the client's next request
    (a WSGI app may not set Connection itself)."""
    limit = getattr(getattr(worker, "wsgi", None), "config", {}).get("MAX_CONTENT_LENGTH")
    length = next((value for name, value in req.headers if name == "CONTENT-LENGTH"), None)
    if limit and length and length.isdigit() and int(length) > limit:
        req.force_close()


def post_worker_init(worker):
    """Say when a worker has loaded the app and starts accepting: until then,
    connections the kernel hands to its socket wait in that socket's backlog."""
    worker.log.info("Worker ready (pid: %s)", worker.pid)


def child_exit(server, worker):
    """A worker is gone: prometheus-client drops its live gauges (its counters still count)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if _created_metrics_directory:
        shutil.rmtree(_created_metrics_directory, ignore_errors=True)
