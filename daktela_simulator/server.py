"""Serving the simulator on loopback: in a background thread (tests) or as a process.

waitress keeps HTTP/1.1 connections alive (werkzeug's development server
closes every one), so clients that pool connections can be measured.
"""
from __future__ import annotations

import threading
from typing import Optional

from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.server import create_server

from daktela_simulator.app import create_simulator_app
from daktela_simulator.core import Simulator


def counting_channel(sim: Simulator) -> type[HTTPChannel]:
    """waitress's channel (one per accepted TCP connection), counting as it is made."""

    class CountingChannel(HTTPChannel):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            with sim.lock:
                sim.stats["connections"] += 1

    return CountingChannel


class SimulatorServer:
    """`with SimulatorServer() as server:` serves a Simulator on 127.0.0.1 until the block ends."""

    def __init__(self, simulator: Optional[Simulator] = None, host: str = "127.0.0.1", port: int = 0,
                 threads: int = 16):
        self.simulator = simulator or Simulator()
        self._server = create_server(create_simulator_app(self.simulator), host=host, port=port, threads=threads,
                                     connection_limit=1000, channel_timeout=30, ident="daktela-simulator",
                                     expose_tracebacks=False, clear_untrusted_proxy_headers=True)
        self._server.channel_class = counting_channel(self.simulator)
        self._thread: Optional[threading.Thread] = None
        self._stopping = threading.Event()

    @property
    def url(self) -> str:
        host, port = self._server.effective_host, self._server.effective_port
        return f"http://{host}:{port}"

    def start(self) -> "SimulatorServer":
        self._thread = threading.Thread(target=self.serve_forever, name="daktela-simulator", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        server = self._server
        try:
            while not self._stopping.is_set():
                wasyncore.loop(timeout=0.2, map=server._map, use_poll=True, count=1)
        finally:
            # Closed here, in the loop's own thread: kept-alive client
            # connections included, so nothing outlives the server.
            for dispatcher in list(server._map.values()):
                try:
                    dispatcher.close()
                except OSError:
                    pass
            server.task_dispatcher.shutdown(timeout=2)

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.simulator.close()

    def __enter__(self) -> "SimulatorServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
