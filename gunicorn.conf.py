"""gunicorn settings for the web process; `gunicorn wsgi:app` reads this file from the working directory.

Threads, because a request mostly waits (for the database, or for Daktela
when sending inline), and because webhooks arriving together in one process
share one transaction (service/dialer/group_commit.py): the more of them a
process holds at once, the fewer commits they cost. gunicorn itself reads
WEB_CONCURRENCY (processes, as Heroku sets it) and PORT.
"""
import os

worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "16"))
# Each process listens on its own socket and the kernel spreads new
# connections across them; with one shared socket a single process can
# accept every kept-alive connection of a burst and leave the others idle.
# (The price: connections still queued on a restarting worker's socket are reset.)
reuse_port = True


def post_worker_init(worker):
    """Say when a worker has loaded the app and starts accepting: until then,
    connections the kernel hands to its socket wait in that socket's backlog."""
    worker.log.info("Worker ready (pid: %s)", worker.pid)
