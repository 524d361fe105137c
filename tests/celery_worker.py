"""A real Celery worker in a subprocess, for integration tests through the real broker."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parents[1]


def worker_database_url() -> str:
    """The test database as a DATABASE_URL for a worker subprocess (PostgreSQL only: it
    cannot open SQLite's in-memory test database)."""
    db = settings.DATABASES["default"]
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@contextlib.contextmanager
def running_worker(queues: str = "critical,probes,default", extra_env: dict | None = None):
    """Start ``celery worker`` on the test's REDIS_URL; stop it afterwards.

    The worker uses the test database settings when ``extra_env`` provides DATABASE_URL.
    """
    env = {**os.environ, "REDIS_URL": settings.REDIS_URL, "DEBUG": "true", **(extra_env or {})}
    _purge(queues)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "opsportal", "worker", "-Q", queues, "-P", "solo",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "WARNING"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _purge(queues: str) -> None:
    """Drop messages earlier tests left in these queues (on-commit deliveries of rows whose
    test database is gone), so the worker starts on this test's work, not a backlog."""
    from opsportal.celery import app

    with app.connection_for_write() as conn:
        channel = conn.default_channel
        for name in queues.split(","):
            channel.queue_purge(name.strip())


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")
