"""Serving the simulator on loopback: in a background thread (tests) or as a process.

waitress keeps HTTP/1.1 connections alive (werkzeug's development server
closes every one), so clients that pool connections can be measured.
"""
from __future__ import annotations

import threading
from typing import Optional

from waitress import wasyncore
from waitress.server import create_server

from daktela_simulator.app import create_simulator_app
from daktela_simulator.core import Simulator


def count_connections(sim: Simulator, wsgi_app):
    """Count TCP connections as distinct client (address, port) pairs."""
    seen: set[tuple[str, str]] = set()

    def middleware(environ, start_response):
        peer = (environ.get("REMOTE_ADDR", ""), environ.get("REMOTE_PORT", ""))
        with sim.lock:
            if peer not in seen:
                seen.add(peer)
                sim.stats["connections"] += 1
        return wsgi_app(environ, start_response)

    return middleware


class SimulatorServer:
    """`with SimulatorServer() as server:` serves a Simulator on 127.0.0.1 until the block ends."""

    def __init__(self, simulator: Optional[Simulator] = None, host: str = "127.0.0.1", port: int = 0,
                 threads: int = 16):
        self.simulator = simulator or Simulator()
        app = count_connections(self.simulator, create_simulator_app(self.simulator))
        self._server = create_server(app, host=host, port=port, threads=threads,
                                     connection_limit=1000, channel_timeout=30, ident="daktela-simulator",
                                     expose_tracebacks=False, clear_untrusted_proxy_headers=True)
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
