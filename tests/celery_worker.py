"""Real Celery workers and beat in subprocesses, for integration tests through the real broker."""

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


def _env(broker_url: str | None, extra_env: dict | None) -> dict:
    env = {**os.environ, "REDIS_URL": broker_url or settings.REDIS_URL, "DEBUG": "true", **(extra_env or {})}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return env


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def running_worker(
    queues: str = "critical,probes,default",
    extra_env: dict | None = None,
    *,
    broker_url: str | None = None,
    pool: str = "solo",
    log_path: Path | None = None,
    hostname: str | None = None,
):
    """Start ``celery worker`` on the test's REDIS_URL (or ``broker_url``); stop it afterwards.

    The worker uses the test database settings when ``extra_env`` provides DATABASE_URL. With
    ``log_path`` its output (INFO) goes to that file, else to a pipe (WARNING).
    """
    env = _env(broker_url, extra_env)
    _purge(queues, broker_url)
    command = [sys.executable, "-m", "celery", "-A", "opsportal", "worker", "-Q", queues, "-P", pool,
               "--without-gossip", "--without-mingle", "--without-heartbeat"]  # fmt: skip
    if pool == "prefork":
        command += ["--concurrency", "1"]
    if hostname:
        command += ["-n", hostname]
    log = open(log_path, "w") if log_path else None  # noqa: SIM115 - closed below
    command += ["-l", "INFO" if log else "WARNING"]
    proc = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log or subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        yield proc
    finally:
        _stop(proc)
        if log:
            log.close()


@contextlib.contextmanager
def running_beat(extra_env: dict | None = None, *, broker_url: str | None = None, log_path: Path):
    """Start ``celery beat`` (the database scheduler: the test database's PeriodicTask rows,
    so ``extra_env`` must give DATABASE_URL); stop it afterwards."""
    env = _env(broker_url, extra_env)
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "opsportal", "beat", "-l", "INFO", "--pidfile="],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            yield proc
        finally:
            _stop(proc)


@contextlib.contextmanager
def publishing_to(broker_url: str):
    """Point this (the test) process's Celery app at another broker: tasks published inside
    the block (on-commit ones included) go there."""
    from opsportal.celery import app

    saved = app.conf.broker_url, app._pool, app.amqp._producer_pool
    app.conf.broker_url = broker_url
    app._pool = app.amqp._producer_pool = None
    try:
        yield app
    finally:
        if app._pool is not None:
            app._pool.force_close_all()
        app.conf.broker_url, app._pool, app.amqp._producer_pool = saved


def _purge(queues: str, broker_url: str | None = None) -> None:
    """Drop messages earlier tests left in these queues (on-commit deliveries of rows whose
    test database is gone), so the worker starts on this test's work, not a backlog."""
    from opsportal.celery import app

    with app.connection_for_write(broker_url) as conn:
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
