"""Tracking calls to their outcome, for any backend that implements the tracking interface
(`service.backends.base`): the poller (`poll`), webhooks (`webhooks`, applied in groups by `groups`)."""
from __future__ import annotations

from typing import Any

from service.dialer.runtime import current_backend
from service.dialer.tracking.poll import check_dialer_status
from service.errors import BackendNotSupportedError


def can_check_message_states() -> bool:
    """Whether the configured backend's messages can be checked (the worker then does, periodically)."""
    backend = current_backend()
    return backend.can_track() or backend.can_check_status()


def check_message_states() -> Any:
    """The seed's `bulk_check_dialer_status`: the tracking core's poller for a backend that
    implements the tracking interface, else the backend's own implementation."""
    backend = current_backend()
    if backend.can_track():
        return check_dialer_status()
    if backend.can_check_status():
        return backend.bulk_check_dialer_status()
    raise BackendNotSupportedError(f"The dialer backend {backend.dotted_path()} cannot check message states.")
