"""Dialer backends and the loader that picks one from configuration."""
from __future__ import annotations

from service.backends.base import DialerBackend
from service.backends.dummy import DummyDialerBackend
from service.importing import import_string

BACKEND_ALIASES = {
    "dummy": "service.backends.dummy.DummyDialerBackend",
    "daktela": "service.backends.daktela.DaktelaDialerBackend",
}


def load_backend_class(name: str) -> type[DialerBackend]:
    """The backend class for an alias (`dummy`, `daktela`) or a dotted path."""
    backend_class = import_string(BACKEND_ALIASES.get(name, name), "DIALER_SENDER_BACKEND")
    if not (isinstance(backend_class, type) and issubclass(backend_class, DialerBackend)):
        raise ValueError(f"DIALER_SENDER_BACKEND {name!r} is not a DialerBackend subclass")
    return backend_class


__all__ = ["DialerBackend", "DummyDialerBackend", "load_backend_class"]
