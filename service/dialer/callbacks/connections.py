"""The connections callbacks are sent on: the address check (unless private networks are allowed)
and a deadline on the whole call.

urllib3's timeouts bound each read, so a receiver dripping its answer a byte at a time could
hold a sender for ever; `deadline` cuts the call's socket when its total time is up.
"""
from __future__ import annotations

import contextlib
import socket
import threading
from typing import Iterator, Optional

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from service.dialer.callbacks.urls import AddressCheckingConnection

_CALL = threading.local()


class Call:
    """The connection one call of this thread uses, and whether its deadline cut it."""

    def __init__(self) -> None:
        self.connection: Optional[HTTPConnection] = None
        self.cut = False

    def cut_now(self) -> None:
        sock = getattr(self.connection, "sock", None)
        self.cut = True
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[Call]:
    """Within the block, this thread's call is cut after `seconds`, whatever it is waiting for."""
    call = Call()
    _CALL.value = call
    timer = threading.Timer(seconds, call.cut_now)
    timer.daemon = True
    timer.start()
    try:
        yield call
    finally:
        timer.cancel()
        _CALL.value = None


class _DeadlineConnection(HTTPConnection):
    def request(self, *args, **kwargs) -> None:
        call = getattr(_CALL, "value", None)
        if call is not None:
            call.connection = self  # a new or a reused keep-alive connection alike
        super().request(*args, **kwargs)


class _DeadlineHTTPSConnection(_DeadlineConnection, HTTPSConnection):
    pass


class _CheckedConnection(AddressCheckingConnection, _DeadlineConnection):
    pass


class _CheckedHTTPSConnection(AddressCheckingConnection, _DeadlineHTTPSConnection):
    pass


def _pool(base: type, connection_class: type) -> type:
    return type(f"Callback{base.__name__}", (base,), {"ConnectionCls": connection_class})


_POOLS = {
    True: {"http": _pool(HTTPConnectionPool, _CheckedConnection),
           "https": _pool(HTTPSConnectionPool, _CheckedHTTPSConnection)},
    False: {"http": _pool(HTTPConnectionPool, _DeadlineConnection),
            "https": _pool(HTTPSConnectionPool, _DeadlineHTTPSConnection)},
}


class CallbackAdapter(HTTPAdapter):
    """A requests adapter on these connections; `check_addresses` turns the SSRF check on."""

    def __init__(self, check_addresses: bool, **kwargs) -> None:
        self.check_addresses = check_addresses
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(_POOLS[self.check_addresses])
