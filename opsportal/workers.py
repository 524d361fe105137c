"""Worker liveness: a heartbeat per Celery worker process and per queue it consumes.

Every worker process beats every ``WORKER_HEARTBEAT_SECONDS`` (default 10) from a consumer
bootstep, so it beats only while it is connected to the broker and consuming: it stops while
the consumer reconnects, and (prefork) when the event loop that feeds the pool is stuck. It
does not depend on beat, whose health is a separate question (``/healthz`` "scheduler").

Each beat lands in one sorted set per queue in the broker's Redis, ``opsportal:workers:<queue>``:
the member names the worker process (node name and pid, as JSON), the score is the time of
its last beat *on the Redis server's clock* (``TIME``), so web nodes and workers whose clocks
disagree still agree on ages. A worker whose last beat is older than
``WORKER_HEARTBEAT_STALE_SECONDS`` (default 35) is dead; it stays listed (with its age) for a
day, then the next beat prunes it. A worker that stops gracefully withdraws at once.

Readers: ``/healthz`` and ``/healthz/workers`` (opsportal.health), ``/metrics``
(metrics.prometheus) and ``manage.py workers``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field

import redis
from celery import bootsteps, current_app
from django.conf import settings

log = logging.getLogger(__name__)

KEY_PREFIX = "opsportal:workers:"
RETENTION_SECONDS = 24 * 3600  # dead workers stay listed this long
_LIST_LIMIT = 100  # workers read back per queue (newest first)

# Redis TIME, then per queue: record this worker, prune the long dead, keep the set a day.
_RECORD = """
local now = redis.call('TIME')
local at = tonumber(now[1]) + tonumber(now[2]) / 1000000
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, at, ARGV[1])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', at - tonumber(ARGV[2]))
  redis.call('EXPIRE', key, ARGV[2])
end
return tostring(at)
"""


def key(queue: str) -> str:
    return f"{KEY_PREFIX}{queue}"


def member(hostname: str, pid: int) -> str:
    return json.dumps({"hostname": hostname, "pid": pid}, sort_keys=True, separators=(",", ":"))


def heartbeat_interval() -> int:
    return int(getattr(settings, "WORKER_HEARTBEAT_SECONDS", 10))


def stale_after() -> int:
    return int(getattr(settings, "WORKER_HEARTBEAT_STALE_SECONDS", 35))


def queue_names() -> list[str]:
    """The queues tasks are routed to (``opsportal.celery``), in their declared order."""
    return [q.name for q in current_app.conf.task_queues]


def client(url: str | None = None) -> redis.Redis:
    """A short-timeout client on the broker's Redis: a health check must answer fast."""
    return redis.Redis.from_url(url or settings.CELERY_BROKER_URL, socket_connect_timeout=1, socket_timeout=2)


def record(conn: redis.Redis, *, member: str, queues: Iterable[str]) -> float:
    """One beat of ``member`` for each of ``queues``; returns the Redis time it was given."""
    keys = [key(q) for q in sorted(set(queues))]
    if not keys:
        return 0.0
    return float(conn.eval(_RECORD, len(keys), *keys, member, RETENTION_SECONDS))


def withdraw(conn: redis.Redis, *, member: str, queues: Iterable[str]) -> None:
    pipe = conn.pipeline(transaction=False)
    for queue in set(queues):
        pipe.zrem(key(queue), member)
    pipe.execute()


@dataclass(frozen=True)
class WorkerBeat:
    hostname: str
    pid: int | None
    age: float
    alive: bool


@dataclass(frozen=True)
class QueueLiveness:
    queue: str
    alive: int
    last_heartbeat_age: float | None  # the newest beat, alive or not; None: none in a day
    workers: list[WorkerBeat] = field(default_factory=list)

    def as_dict(self) -> dict:
        age = None if self.last_heartbeat_age is None else round(self.last_heartbeat_age, 1)
        return {"alive": self.alive, "last_heartbeat_age_seconds": age}


def _parse(raw: bytes) -> tuple[str, int | None]:
    try:
        data = json.loads(raw)
        return str(data["hostname"]), int(data["pid"])
    except (ValueError, KeyError, TypeError):
        return raw.decode(errors="replace"), None


def liveness(conn: redis.Redis, queues: Iterable[str]) -> dict[str, QueueLiveness]:
    """Per queue: live workers, the newest beat's age, and the workers (newest first).
    One round trip; raises ``redis.RedisError`` when Redis cannot be read."""
    queues = list(queues)
    pipe = conn.pipeline(transaction=False)
    pipe.time()
    for queue in queues:
        pipe.zrange(key(queue), 0, _LIST_LIMIT - 1, desc=True, withscores=True)
    (seconds, micros), *rows = pipe.execute()
    now = seconds + micros / 1e6
    stale = stale_after()
    report = {}
    for queue, beats in zip(queues, rows, strict=True):
        listed = []
        for raw, at in beats:
            hostname, pid = _parse(raw)
            age = max(0.0, now - at)
            listed.append(WorkerBeat(hostname=hostname, pid=pid, age=age, alive=age <= stale))
        report[queue] = QueueLiveness(
            queue=queue,
            alive=sum(w.alive for w in listed),
            last_heartbeat_age=listed[0].age if listed else None,
            workers=listed,
        )
    return report


def summary(conn: redis.Redis, queues: Iterable[str] | None = None) -> dict:
    """The JSON report of /healthz and /healthz/workers: ok when every queue has a live
    worker. Counts and ages only: host names and pids stay off unauthenticated endpoints."""
    report = liveness(conn, queue_names() if queues is None else queues)
    return {
        "ok": all(r.alive for r in report.values()),
        "stale_after_seconds": stale_after(),
        "queues": {q: r.as_dict() for q, r in report.items()},
    }


class Heartbeat(bootsteps.StartStopStep):
    """Consumer bootstep: beats for the queues the task consumer consumes.

    Started after the task consumer (so after every reconnection), stopped before a
    reconnection, withdrawn at worker shutdown. Runs on the consumer's timer: the event loop
    (prefork) or the timer thread (solo)."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, c, **kwargs):
        self.entry = None
        self.conn: redis.Redis | None = None
        self.member = member(c.hostname, os.getpid())
        self.queues: set[str] = set()
        self.failing = False
        super().__init__(c, **kwargs)

    def _consumed(self, c) -> set[str]:
        consumer = getattr(c, "task_consumer", None)
        return {q.name for q in consumer.queues} if consumer is not None else set()

    def beat(self, c) -> None:
        queues = self._consumed(c)
        try:
            if self.queues - queues:  # a queue cancelled through remote control
                withdraw(self.conn, member=self.member, queues=self.queues - queues)
            record(self.conn, member=self.member, queues=queues)
        except redis.RedisError as exc:
            if not self.failing:  # once per outage, not every few seconds
                log.warning("worker heartbeat not recorded: %s", exc)
            self.failing = True
            return
        if self.failing:
            log.info("worker heartbeat recorded again")
        self.failing = False
        self.queues = queues

    def start(self, c) -> None:
        self.conn = self.conn or client(c.app.conf.broker_url)
        self.beat(c)
        self.entry = c.timer.call_repeatedly(heartbeat_interval(), self.beat, (c,))

    def stop(self, c) -> None:
        if self.entry is not None:
            self.entry.cancel()
            self.entry = None

    def shutdown(self, c) -> None:
        self.stop(c)
        if self.conn is not None and self.queues:
            with contextlib.suppress(redis.RedisError):  # else it simply goes stale
                withdraw(self.conn, member=self.member, queues=self.queues)
        if self.conn is not None:
            self.conn.close()
            self.conn = None
