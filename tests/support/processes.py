"""Running the Procfile's commands as real processes in tests, and the clients that try them."""
from __future__ import annotations

import asyncio
import os
import re
import sys
import threading
import time
from pathlib import Path

from tests.conftest import SIMULATOR_TOKEN

ROOT = Path(__file__).resolve().parent.parent.parent


def procfile_command(process: str) -> list[str]:
    """The Procfile's command for `process` (web, worker), run with this interpreter."""
    line = next(line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith(f"{process}:"))
    command = line.partition(":")[2].split()
    assert command[0] in ("gunicorn", "flask"), command
    return [sys.executable, "-m", *command]


def service_environment(database_url: str, simulator_url: str, **settings: str) -> dict[str, str]:
    """A production environment for the service against the simulator, plus `settings`."""
    return {**os.environ, "APP_ENV": "production", "SECRET_KEY": "test", "DIALER_API_KEYS": "k",
            "DATABASE_URL": database_url, "DIALER_SENDER_BACKEND": "daktela", "DAKTELA_URL": simulator_url,
            "DAKTELA_ACCESS_TOKEN": SIMULATOR_TOKEN, "DAKTELA_AUTODIALER_RECORD_TYPE": "tts-autodialer",
            "DAKTELA_RECORD_NAME_PREFIX": "test_", **settings}


def descendants(pid: int) -> list[int]:
    """The ids of the processes `pid` started, and of theirs (Linux: read from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/stat") as stat:
                parent = int(stat.read().rpartition(")")[2].split()[1])
        except (ValueError, OSError):
            continue  # not a process, or one that just ended
        children.setdefault(parent, []).append(int(entry))
    found, pending = [], [pid]
    while pending:
        for child in children.get(pending.pop(), []):
            found.append(child)
            pending.append(child)
    return found


class Crowd:
    """Clients that hold a server's connections, run by an asyncio loop in a thread of their own.

    `slow` clients each send part of a request line and headers, then one more
    byte every `drip_seconds`, and connect again when the server closes them;
    `lingering` clients each complete a request, read the answer and keep the
    socket open, idle, for `linger_seconds`, then do it again (half of them ask
    for keep-alive, half for `Connection: close`).
    """

    linger_seconds = 10

    def __init__(self, port: int, slow: int, lingering: int, drip_seconds: float) -> None:
        self.port, self.slow, self.lingering, self.drip_seconds = port, slow, lingering, drip_seconds
        self.slow_connections = 0      # slow-header connections opened (reconnections included)
        self.lingering_answers = 0     # answers the lingering clients read
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_until_complete, args=(self._main(),), daemon=True)
        self._stopping: asyncio.Event | None = None

    def __enter__(self) -> "Crowd":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        while self._stopping is None:
            time.sleep(0.01)
        self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(30)

    async def _main(self) -> None:
        self._stopping = asyncio.Event()
        tasks = [asyncio.create_task(self._slow_client()) for _ in range(self.slow)]
        tasks += [asyncio.create_task(self._lingering_client(close=i % 2 == 1)) for i in range(self.lingering)]
        await self._stopping.wait()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _slow_client(self) -> None:
        while True:
            writer = None
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.write(b"GET /healthz HTTP/1.1\r\nHost: bench\r\nX-Slow: ")
                await writer.drain()
                self.slow_connections += 1
                while True:
                    try:
                        if not await asyncio.wait_for(reader.read(1024), self.drip_seconds):
                            break  # the server closed it: connect again
                    except asyncio.TimeoutError:
                        writer.write(b"x")
                        await writer.drain()
            except OSError:
                await asyncio.sleep(0.1)
            finally:
                if writer is not None:
                    writer.close()

    async def _lingering_client(self, close: bool) -> None:
        request = (b"GET /healthz HTTP/1.1\r\nHost: bench\r\n"
                   + (b"Connection: close\r\n" if close else b"") + b"\r\n")
        while True:
            writer = None
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.write(request)
                await writer.drain()
                head = await reader.readuntil(b"\r\n\r\n")
                length = re.search(rb"(?i)content-length:\s*(\d+)", head)
                await reader.readexactly(int(length.group(1)) if length else 0)
                self.lingering_answers += 1
                await asyncio.sleep(self.linger_seconds)  # idle, neither reading nor closing
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                await asyncio.sleep(0.1)
            finally:
                if writer is not None:
                    writer.close()
