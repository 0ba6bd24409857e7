"""A request id for every HTTP request: taken from X-Request-ID (Heroku's router
and most proxies set one) when it is sane, else made up; echoed in the response
and stamped on every log line written while the request runs, so one failed
call can be followed through the logs."""
from __future__ import annotations

import logging
import re
import uuid

from flask import Flask, Response, g, has_request_context, request

HEADER = "X-Request-ID"
_SANE = re.compile(r"[A-Za-z0-9._:@/+=-]{1,200}")


def init_request_ids(app: Flask) -> None:
    @app.before_request
    def assign() -> None:
        incoming = request.headers.get(HEADER, "")
        g.request_id = incoming if _SANE.fullmatch(incoming) else uuid.uuid4().hex

    @app.after_request
    def echo(response: Response) -> Response:
        response.headers[HEADER] = g.get("request_id") or uuid.uuid4().hex
        return response


def install_log_record_factory() -> None:
    """Give every log record a `request_id` ("-" outside a request); installed once."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "adds_request_id", False):
        return

    def factory(*args, **kwargs) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        record.request_id = g.get("request_id", "-") if has_request_context() else "-"
        return record

    factory.adds_request_id = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
