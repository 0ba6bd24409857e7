"""A body over the limit (413) over real HTTP: a keep-alive client's next request
is served, or the 413 said `Connection: close` and the server closed."""
import socket

import requests

from tests.conftest import API_KEY
from tests.integration.test_web_process import web_process  # noqa: F401 (a fixture)

# Over the 1 MiB limit by more than a server drains of an unread body by itself.
OVERSIZED = 1024 * 1024 + 256 * 1024


def read_response(sock: socket.socket) -> tuple[list[str], bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return [], data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = int(next(line.split(":", 1)[1] for line in lines if line.lower().startswith("content-length:")))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return lines, body


def header(lines: list[str], name: str) -> str:
    return next((line.split(":", 1)[1].strip().lower() for line in lines if line.lower().startswith(name + ":")), "")


def assert_keep_alive_survives_a_413(base_url: str) -> None:
    port = int(base_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"POST /api/v1/messages HTTP/1.1\r\nHost: test\r\n"
                     + f"Authorization: Bearer {API_KEY}\r\nContent-Type: application/json\r\n".encode()
                     + f"Content-Length: {OVERSIZED}\r\n\r\n".encode() + b" " * OVERSIZED)
        lines, body = read_response(sock)
        assert lines and lines[0].startswith("HTTP/1.1 413"), (lines, body[:200])
        closing = header(lines, "connection") == "close"
        try:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
            next_lines, next_body = read_response(sock)
        except OSError as exc:  # reset: the server closed a connection it called keep-alive
            next_lines, next_body = [], repr(exc).encode()
        if closing:
            assert next_lines == [], "the 413 said Connection: close, but the server kept the connection"
        else:
            assert next_lines and next_lines[0].startswith("HTTP/1.1 200"), (
                "the 413 kept the connection alive, but the next request on it failed", next_lines, next_body)


def test_a_keep_alive_client_is_served_after_a_413(app, live_server):
    base_url = live_server(app)
    assert_keep_alive_survives_a_413(base_url)
    with requests.Session() as session:
        headers = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}
        too_big = session.post(f"{base_url}/api/v1/messages", data=b" " * OVERSIZED, headers=headers, timeout=10)
        assert too_big.status_code == 413 and too_big.json()["code"] == 413
        assert session.get(f"{base_url}/healthz", timeout=10).status_code == 200


def test_the_web_command_closes_a_connection_after_a_413(web_process):  # noqa: F811
    _app, base_url, _log, _port = web_process
    assert_keep_alive_survives_a_413(base_url)
