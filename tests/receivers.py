"""A raw HTTP receiver on a loopback address, for tests of outbound requests.

pytest-httpserver answers whole responses; these tests need a server that misbehaves at the
byte level (a status line or body trickled one byte at a time) and that counts every request
it saw, so a test can assert that a refused destination was never contacted at all.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from dataclasses import dataclass

import pytest


@dataclass
class Seen:
    method: str
    path: str
    at: float


class Receiver:
    """Listens on ``host`` (127.0.0.1 or ::1) and answers every request with ``response``
    (raw bytes). With ``interval`` set, the first ``at_once`` bytes go out in one write and the
    rest one byte every ``interval`` seconds, for at most ``trickle_for`` seconds (then the
    connection is closed)."""

    def __init__(
        self,
        response: bytes = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
        *,
        host: str = "127.0.0.1",
        interval: float | None = None,
        at_once: int = 0,
        trickle_for: float = 30.0,
    ) -> None:
        self.response = response
        self.at_once = at_once
        self.interval = interval
        self.trickle_for = trickle_for
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(32)
        self.host = host
        self.port = self.sock.getsockname()[1]
        self.requests: list[Seen] = []
        self.connections = 0
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._threads: list[threading.Thread] = []
        self._accepter = threading.Thread(target=self._accept, daemon=True)
        self._accepter.start()

    def url(self, path: str = "/hook", *, name: str | None = None) -> str:
        netloc = name or (f"[{self.host}]" if ":" in self.host else self.host)
        return f"http://{netloc}:{self.port}{path}"

    @property
    def count(self) -> int:
        with self._lock:
            return len(self.requests)

    def _accept(self) -> None:
        self.sock.settimeout(0.1)  # poll, so close() stops the thread without a blocked accept()
        while not self._stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.connections += 1
            thread = threading.Thread(target=self._handle, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _read_request(self, conn: socket.socket) -> bytes | None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        while len(body) < length:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            body += chunk
        return head

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(10)
            try:
                while not self._stopped.is_set():
                    head = self._read_request(conn)
                    if head is None:
                        return
                    method, path = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ")[:2]
                    with self._lock:
                        self.requests.append(Seen(method, path, time.monotonic()))
                    if self.interval is None:
                        conn.sendall(self.response)
                        if b"connection: close" in self.response.lower():
                            return
                        continue
                    self._trickle(conn)
                    return
            except OSError:
                return

    def _trickle(self, conn: socket.socket) -> None:
        until = time.monotonic() + self.trickle_for
        if self.at_once:
            conn.sendall(self.response[: self.at_once])
        for i in range(self.at_once, len(self.response)):
            if self._stopped.is_set() or time.monotonic() > until:
                return
            conn.sendall(self.response[i : i + 1])
            self._stopped.wait(self.interval)

    def close(self) -> None:
        self._stopped.set()
        self._accepter.join(timeout=5)
        with contextlib.suppress(OSError):
            self.sock.close()
        for thread in self._threads:
            thread.join(timeout=5)


@pytest.fixture
def make_receiver():
    """``make_receiver(factory=Receiver, **kwargs)``: a receiver closed after the test."""
    made: list[Receiver] = []

    def make(factory=None, **kwargs) -> Receiver:
        receiver = (factory or Receiver)(**kwargs)
        made.append(receiver)
        return receiver

    yield make
    for receiver in made:
        receiver.close()


def trickling_body(*, interval: float, size: int = 64, **kwargs) -> Receiver:
    """A 200 whose headers arrive at once and whose body then comes one byte per ``interval``."""
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n" % size
    return Receiver(head + b"x" * size, interval=interval, at_once=len(head), **kwargs)


def trickling_status(*, interval: float, **kwargs) -> Receiver:
    """A 200 whose status line itself arrives one byte per ``interval``."""
    return Receiver(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", interval=interval, **kwargs)
