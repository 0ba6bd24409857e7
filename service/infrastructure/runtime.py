"""Per-application objects built once at start-up and read back by key (Flask's `app.extensions`)."""
from __future__ import annotations

from typing import Any

from flask import Flask, current_app


def install(app: Flask, key: str, value: Any) -> Any:
    """Keep `value` on `app` under `key`; returns it."""
    app.extensions[key] = value
    return value


def installed(key: str) -> Any:
    """What `install` kept under `key` on the current application."""
    return current_app.extensions[key]
