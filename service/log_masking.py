"""Secrets sent in a query string never reach a log line the service writes.

Daktela may only be able to put the webhook secret in the URL (`?token=`), and
a caller may put an API key there by mistake; request lines with that URL are
logged by werkzeug's development server (`flask run`, `make run`) and by
gunicorn's access log when it is switched on. A log record factory (so every
logger and handler is covered, whoever configured it) masks the value of
secret-looking query parameters before the record is formatted anywhere.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Mapping

MASK = "***"
# A query parameter whose name says it holds a secret: ?token=, ?api_key=, ?access_token=, ?webhook_secret=, ...
SECRET_WORDS = ("token", "key", "secret", "password", "passwd", "signature", "auth")
_QUERY_SECRET = re.compile(
    r"([?&;][^=&;#\s]*(?:%s)[^=&;#\s]*=)[^&;#\s\"']*" % "|".join(SECRET_WORDS), re.IGNORECASE
)


def mask_query_secrets(text: str) -> str:
    """`text` with the values of secret query parameters (`?token=…`, `&api_key=…`) replaced by ***."""
    return _QUERY_SECRET.sub(lambda match: match.group(1) + MASK, text)


def _may_hold_secret(record: logging.LogRecord) -> bool:
    args = record.args
    values = args.values() if isinstance(args, Mapping) else (args or ())
    return any(isinstance(part, str) and _QUERY_SECRET.search(part) for part in (record.msg, *values))


def _mask(record: logging.LogRecord) -> None:
    if not _may_hold_secret(record):
        return
    try:
        message = record.getMessage()
    except Exception:  # a broken format string is reported by the handler, as without masking
        return
    # Formatted first: a name in the format string and its value in the
    # arguments ("?token=%s") are masked together.
    record.msg, record.args = mask_query_secrets(message), ()


_installed = False


def install_secret_masking() -> None:
    """Mask secret query values in every log record from now on; installed once per process.

    Install it before other record factories that check only the factory on
    top (request_ids'), so that each app built in the process adds none.
    """
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args, **kwargs) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        _mask(record)
        return record

    logging.setLogRecordFactory(factory)
    _installed = True
