"""Heartbeat ping ingestion: the request path of ``/ping/<uuid>``.

A ping must cost little more than answering ``OK``: fleets of cron jobs ping every minute, and
the endpoint must not take the database down with them. Measured on this stack, one database
statement per ping cut the endpoint's throughput to a third of a trivial view's, and even one
Redis round trip to about two thirds (benchmarks/probes.py). So, on PostgreSQL:

* **Success pings are buffered in the web process** and written by a background thread every
  ``PROBE_PING_FLUSH_MS`` (default 250 ms) in one statement per batch
  (``services.record_success_pings``). Pings keep the time they arrived, so lateness and
  durations are exact; a batch that fails (database restarting) goes back to the front of the
  buffer and is retried on the next tick. The buffer is flushed when the process exits
  normally (gunicorn's graceful restarts included). A hard kill of a web process (SIGKILL, the
  OOM killer) loses at most the last interval of success pings, which matters only if one of
  them was a heartbeat's last chance before its deadline; ``PROBE_PING_FLUSH_MS = 0`` writes
  every ping before answering instead.
* **Start and fail pings are written before answering**, after the buffer is flushed, so a
  job's pings reach the database in the order they arrived: ``/fail`` marks the heartbeat down
  at once.
* **Rate limiting** (``PROBE_PING_RATE`` per ping URL) counts in this process's memory, a
  fixed window per URL; with several web processes a URL gets the rate in each of them. The
  table is bounded (``MAX_TRACKED_URLS``); when it is full of live windows (many distinct URLs
  in one window: a scan), new URLs are counted in Redis instead.

On SQLite (the embedded default, one local writer) every ping is written before answering.
"""

from __future__ import annotations

import atexit
import hashlib
import logging
import os
import threading
import time
import uuid as uuidlib
from collections import deque
from datetime import datetime

from django.db import DatabaseError, close_old_connections, connection
from django.utils import timezone
from redis import RedisError

from opsportal.cache import count_hit
from probes import conf, services

logger = logging.getLogger(__name__)

MAX_TRACKED_URLS = 50_000
MAX_BUFFERED = 100_000  # past this, pings are written before answering (back-pressure)


class RateWindows:
    """Fixed-window counters per key, in this process, with a bounded table."""

    def __init__(self, max_keys: int = MAX_TRACKED_URLS):
        self.max_keys = max_keys
        self._hits: dict[str, list[int]] = {}
        self._lock = threading.Lock()
        self._pruned_slot = -1

    def over(self, key: str, limit: int, window: int, now: float) -> bool | None:
        """Count a hit; True when over ``limit`` in the current window. None when the table is
        full of live windows and ``key`` is new (the caller counts elsewhere)."""
        slot = int(now // window)
        with self._lock:
            if slot != self._pruned_slot:  # a new window: forget the old ones (once per window)
                self._hits = {k: v for k, v in self._hits.items() if v[0] == slot}
                self._pruned_slot = slot
            entry = self._hits.get(key)
            if entry is None or entry[0] != slot:
                if entry is None and len(self._hits) >= self.max_keys:
                    return None
                entry = self._hits[key] = [slot, 0]
            entry[1] += 1
            return entry[1] > limit

    def clear(self) -> None:
        with self._lock:
            self._hits.clear()


class PingBuffer:
    """Success pings waiting to be written, and the thread that writes them."""

    def __init__(self):
        self._pending: deque[tuple[uuidlib.UUID, datetime]] = deque()
        self._flush_lock = threading.Lock()
        self._start_lock = threading.Lock()
        self._owner_pid: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing_since: float | None = None

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, ping_uuid: uuidlib.UUID, at: datetime) -> None:
        if self._owner_pid != os.getpid():  # first ping in this process (or after a fork)
            self._start()
        self._pending.append((ping_uuid, at))

    def _start(self) -> None:
        with self._start_lock:
            if self._owner_pid == os.getpid():
                return
            self._pending = deque()  # a forked child does not inherit its parent's pings
            self._stop = threading.Event()
            self._thread = threading.Thread(
                target=self._run, args=(self._stop,), name="ping-flusher", daemon=True
            )
            self._thread.start()
            if self._owner_pid is None:
                atexit.register(self.shutdown)
            self._owner_pid = os.getpid()

    def _run(self, stop: threading.Event) -> None:
        while not stop.wait(conf.ping_flush_seconds() or 0.1):
            try:
                close_old_connections()  # this thread's own connection: CONN_MAX_AGE, errors
                self.flush()
            except Exception:  # never let the thread die: the pings would pile up unwritten
                logger.exception("ping flush crashed")
        connection.close()

    def shutdown(self, timeout: float = 5.0) -> int:
        """Stop the flusher thread and write what is left (process exit; tests). The next
        ping starts a new thread."""
        with self._start_lock:
            if self._owner_pid == os.getpid():
                self._stop.set()
                self._thread.join(timeout)
                self._owner_pid = None
        return self.flush()

    def flush(self) -> int:
        """Write every buffered ping; returns how many were recorded. Safe to call from any
        thread; a failed batch returns to the front of the buffer."""
        with self._flush_lock:
            batch = []
            while self._pending:
                try:
                    batch.append(self._pending.popleft())
                except IndexError:  # pragma: no cover - emptied between the check and the pop
                    break
            if not batch:
                return 0
            try:
                recorded = services.record_success_pings(batch)
            except (services.PingsNotRecorded, DatabaseError) as exc:
                unrecorded = getattr(exc, "unrecorded", batch)
                self._pending.extendleft(reversed(unrecorded))
                if self._failing_since is None:
                    self._failing_since = time.monotonic()
                    logger.error(
                        "ping flush failed, %d pings kept for the next try: %s",
                        len(unrecorded),
                        exc.__cause__ or exc,
                    )
                return 0
            if self._failing_since is not None:
                logger.warning("ping flush recovered after %.1f s", time.monotonic() - self._failing_since)
                self._failing_since = None
            return recorded


buffer = PingBuffer()
windows = RateWindows()
_last_outage_warning = [0.0]


def over_limit(ping_uuid: str, now: float | None = None) -> bool:
    """Count one ping of this URL; True when it is over ``PROBE_PING_RATE``. Any input makes a
    safe key, and unknown UUIDs are limited exactly like known ones."""
    limit, window = conf.ping_rate_limit()
    key = hashlib.blake2b(ping_uuid.encode(), digest_size=16).hexdigest()
    over = windows.over(key, limit, window, time.time() if now is None else now)
    if over is not None:
        return over
    try:
        return count_hit(f"probes.ping:{key}", window) > limit
    except RedisError as exc:  # fail open: an outage must not turn pings into false alerts
        if time.monotonic() - _last_outage_warning[0] > 60:
            _last_outage_warning[0] = time.monotonic()
            logger.warning("ping rate limit unavailable, not limiting: %s", exc)
        return False


def accept(ping_uuid: uuidlib.UUID, kind: str, detail: str = "") -> None:
    """Take one ping (already rate-limited): buffer a success, write anything else now."""
    now = timezone.now()
    if conf.ping_buffering():
        if kind == "success" and len(buffer) < MAX_BUFFERED:
            buffer.add(ping_uuid, now)
            return
        buffer.flush()  # this job's earlier pings first
    services.record_ping(ping_uuid=ping_uuid, kind=kind, detail=detail, now=now)
