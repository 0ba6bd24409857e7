"""How log lines look: readable text by default, or one JSON object per line (LOG_FORMAT=json)
for log platforms, each with the request id of the request it was written in ("-" outside one)."""
from __future__ import annotations

import logging

from pythonjsonlogger.json import JsonFormatter

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"
JSON_FIELDS = ("asctime", "levelname", "name", "request_id", "message")
JSON_NAMES = {"asctime": "time", "levelname": "level", "name": "logger"}


def json_formatter() -> logging.Formatter:
    """`{"time": …, "level": …, "logger": …, "request_id": …, "message": …}`, plus any `extra` fields."""
    return JsonFormatter(JSON_FIELDS, rename_fields=JSON_NAMES)


def log_formatter(log_format: str) -> logging.Formatter:
    return json_formatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)


def log_handler(log_format: str) -> logging.Handler:
    """A handler to standard error that writes in `log_format` (text or json)."""
    handler = logging.StreamHandler()
    handler.setFormatter(log_formatter(log_format))
    return handler
