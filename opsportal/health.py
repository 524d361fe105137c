"""/healthz: is the portal able to serve and to queue work?"""

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


@never_cache
@require_GET
def healthz(request):
    checks = {"database": _timed(_database), "broker": _timed(_broker)}
    healthy = all(c["ok"] for c in checks.values())
    body = {
        "status": "ok" if healthy else "unavailable",
        "checks": checks,
        # Informational: beat runs on one machine only, so a stale tick must not take
        # every web node out of the load balancer.
        "scheduler": _scheduler(),
    }
    return JsonResponse(body, status=200 if healthy else 503)
