"""The Daktela backend (DIALER_SENDER_BACKEND=daktela)."""
from service.backends.daktela.backend import DaktelaDialerBackend

__all__ = ["DaktelaDialerBackend"]
