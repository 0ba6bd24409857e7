"""Domain exceptions and the one JSON error envelope.

Every error response has the shape
`{"code": 422, "status": "Unprocessable Entity", "message": "…", "errors": {…}}`
(`errors` only when there are field errors). Exception texts are never sent
to clients unless the exception is one of ours and was written to be shown.
"""
from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any, Mapping, Optional

from flask import Flask, jsonify
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.exceptions import HTTPException

logger = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 5


class ServiceError(Exception):
    """Base of the errors whose message is written for the API caller."""

    status_code = HTTPStatus.INTERNAL_SERVER_ERROR
    default_message = "The request could not be completed."

    def __init__(self, message: Optional[str] = None, errors: Optional[Mapping[str, Any]] = None):
        super().__init__(message or self.default_message)
        self.message = message or self.default_message
        self.errors = dict(errors) if errors else None


class InvalidInputError(ServiceError):
    status_code = HTTPStatus.UNPROCESSABLE_ENTITY
    default_message = "The request contains invalid values."


class NotFoundError(ServiceError):
    status_code = HTTPStatus.NOT_FOUND
    default_message = "Not found."


class ConflictError(ServiceError):
    status_code = HTTPStatus.CONFLICT
    default_message = "The request conflicts with the current state."


class AuthenticationError(ServiceError):
    status_code = HTTPStatus.UNAUTHORIZED
    default_message = "A valid API key is required: send 'Authorization: Bearer <key>'."


class UnsupportedMediaTypeError(ServiceError):
    status_code = HTTPStatus.UNSUPPORTED_MEDIA_TYPE
    default_message = "Send the body as JSON with 'Content-Type: application/json'."


class BackendNotSupportedError(ServiceError):
    """The configured dialer backend does not implement an operation."""

    status_code = HTTPStatus.NOT_IMPLEMENTED
    default_message = "The configured dialer backend does not support this operation."


def error_response(status: int, message: str, errors: Optional[Mapping[str, Any]] = None):
    body: dict[str, Any] = {
        "code": int(status),
        "status": HTTPStatus(status).phrase,
        "message": message,
    }
    if errors:
        body["errors"] = errors
    return jsonify(body), int(status)


def _handle_service_error(exc: ServiceError):
    response, status = error_response(exc.status_code, exc.message, exc.errors)
    if isinstance(exc, AuthenticationError):
        response.headers["WWW-Authenticate"] = 'Bearer realm="dialer"'
    return response, status


def _handle_http_exception(exc: HTTPException):
    data = getattr(exc, "data", None) or {}
    errors = data.get("messages")
    status = exc.code or 500
    message = exc.description if status < 500 else HTTPStatus(status).phrase
    if status == 422 and errors:
        message = "The request contains invalid values."
    elif status == 400 and errors:
        message = "The request body is not valid JSON."
    response, status = error_response(status, message, errors)
    for name, value in (exc.get_headers() if status == 405 else []):
        if name.lower() == "allow":
            response.headers["Allow"] = value
    return response, status


def exception_origin(exc: BaseException) -> str:
    """`Type at file:line in function` of the innermost frame: enough to find the bug,
    without the exception text or locals, which can carry secrets or personal data."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return type(exc).__name__
    code = tb.tb_frame.f_code
    return f"{type(exc).__name__} at {code.co_filename}:{tb.tb_lineno} in {code.co_name}"


def _handle_database_unavailable(exc: Exception):
    # Unreachable, restarting, locked or timed out: nothing was stored, and the
    # same request can succeed later (Daktela's webhook deliveries included).
    logger.error("database unavailable: %s", exception_origin(exc))
    response, status = error_response(503, "The database is unavailable; retry later.")
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response, status


def _handle_unexpected(exc: Exception):
    logger.error("unhandled %s while serving a request", exception_origin(exc))
    return error_response(500, "Internal server error.")


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(ServiceError, _handle_service_error)
    app.register_error_handler(HTTPException, _handle_http_exception)
    app.register_error_handler(OperationalError, _handle_database_unavailable)
    app.register_error_handler(PoolTimeoutError, _handle_database_unavailable)
    app.register_error_handler(Exception, _handle_unexpected)
