"""/healthz: is the portal able to serve and to queue work? /healthz/workers: is anybody
doing the queued work?

Status codes are chosen for who asks. ``/healthz`` is the load balancer's check: 503 only for
what makes *this web node* useless (no database, no broker). A dead worker is not the web
node's fault, and taking every web node out of the load balancer would only add an outage,
so it stays 200 and says so in ``workers`` ("ok": false, per queue: live workers and the age
of the newest heartbeat). ``/healthz/workers`` is the monitor's check: 503 unless every queue
(or every ``?queue=`` given) has a live worker.
"""

from __future__ import annotations

import time
from datetime import datetime

import redis
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from opsportal import workers
from opsportal.tasks import BEAT_HEARTBEAT_KEY


def _timed(check) -> dict:
    started = time.perf_counter()
    try:
        check()
    except Exception as exc:  # reachability, not diagnosis: report the kind of failure only
        return {"ok": False, "error": type(exc).__name__}
    return {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1)}


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _broker() -> None:
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_connect_timeout=1, socket_timeout=1)
    try:
        client.ping()
    finally:
        client.close()


def _scheduler() -> dict:
    try:
        raw = cache.get(BEAT_HEARTBEAT_KEY)
    except Exception:
        return {"last_tick": None, "age_seconds": None}
    if not raw:
        return {"last_tick": None, "age_seconds": None}
    age = (timezone.now() - datetime.fromisoformat(raw)).total_seconds()
    return {"last_tick": raw, "age_seconds": round(age)}


def _workers(queues: list[str] | None = None) -> dict:
    client = workers.client()
    try:
        return workers.summary(client, queues)
    except redis.RedisError as exc:
        return {"ok": False, "error": type(exc).__name__}
    finally:
        client.close()


@never_cache
@require_GET
def healthz(request):
    checks = {"database": _timed(_database), "broker": _timed(_broker)}
    healthy = all(c["ok"] for c in checks.values())
    body = {
        "status": "ok" if healthy else "unavailable",
        "checks": checks,
        # Informational (see the module docstring): a node is not pulled for a dead worker.
        "workers": _workers() if checks["broker"]["ok"] else {"ok": False, "error": "broker unreachable"},
        # Informational: beat runs on one machine only, so a stale tick must not take
        # every web node out of the load balancer.
        "scheduler": _scheduler(),
    }
    return JsonResponse(body, status=200 if healthy else 503)


@never_cache
@require_GET
def healthz_workers(request):
    known = workers.queue_names()
    asked = request.GET.getlist("queue") or known
    for queue in asked:
        if queue not in known:
            return JsonResponse(
                {"detail": f"Unknown queue {queue!r}: one of {', '.join(known)}."}, status=400
            )
    body = _workers(list(dict.fromkeys(asked)))
    return JsonResponse(body, status=200 if body["ok"] else 503)
