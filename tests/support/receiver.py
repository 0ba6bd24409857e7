"""A callback receiver on a loopback socket: records every request it gets and answers as told.

`behave(number, request)` picks the answer of the n-th request (from 1): an HTTP status code,
`"reset"` (the connection is cut with no answer), `"hang"` (no answer until the client gives
up), `"stream"` (200 with a body that goes on for ever) or `"drip"` (headers that never end,
a byte at a time).
"""
from __future__ import annotations

import socket
import struct
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Union

Answer = Union[int, str]


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: str
    path: str


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # quiet tests
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        request = Received({k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length).decode(),
                           self.path)
        receiver: Receiver = self.server.receiver
        answer = receiver.answer_for(request)
        if answer == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            return
        if answer == "hang":
            receiver.stopping.wait(receiver.hang_seconds)
            self.close_connection = True
            return
        if receiver.delay_seconds:
            time.sleep(receiver.delay_seconds)
        if answer == "stream":
            self._stream(receiver)
            return
        if answer == "drip":
            self._drip(receiver)
            return
        body = receiver.answer_body
        self.send_response(int(answer))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _drip(self, receiver: "Receiver") -> None:
        """Headers that never end, a byte every 0.1 s: each read is quick, the whole answer never is."""
        try:
            self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            while not receiver.stopping.wait(0.1):
                self.wfile.write(b"x")
                self.wfile.flush()
        except OSError:
            pass
        self.close_connection = True

    def _stream(self, receiver: "Receiver") -> None:
        self.send_response(200)
        self.end_headers()
        chunk = b"x" * 65536
        try:
            while not receiver.stopping.is_set():
                self.wfile.write(chunk)
        except OSError:
            pass
        self.close_connection = True


class Receiver:
    """Usage: `with Receiver() as receiver: ... receiver.url ... receiver.received`."""

    def __init__(self, behave: Callable[[int, Received], Answer] = lambda number, request: 200,
                 delay_seconds: float = 0.0, answer_body: bytes = b"ok", hang_seconds: float = 5.0):
        self.behave = behave
        self.delay_seconds = delay_seconds
        self.answer_body = answer_body
        self.hang_seconds = hang_seconds
        self.received: list[Received] = []
        self.answers: list[Answer] = []
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.server.receiver = self
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/callbacks"

    def answer_for(self, request: Received) -> Answer:
        with self._lock:
            self.received.append(request)
            answer = self.behave(len(self.received), request)
            self.answers.append(answer)
            return answer

    def delivered(self) -> list[Received]:
        """The requests that were answered 2xx."""
        with self._lock:
            return [request for request, answer in zip(self.received, self.answers, strict=True)
                    if isinstance(answer, int) and 200 <= answer < 300]

    def __enter__(self) -> "Receiver":
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()
