"""Heartbeat ping endpoints, compatible with the healthchecks.io ping protocol:

    /ping/<uuid>          success (also /ping/<uuid>/0)
    /ping/<uuid>/start    the job started (start-to-success duration is recorded)
    /ping/<uuid>/fail     the job failed: down at once (also /ping/<uuid>/<1-255>)

GET, POST or HEAD, no login, no CSRF token. The answer is a plain "OK" whether or not the
UUID exists (a 429 when the URL is pinged too often), so the endpoint reveals nothing.
"""

from __future__ import annotations

import uuid

from django.http import HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods
from django_ratelimit.core import is_ratelimited

from probes import conf, services


def _answer(text: str, status: int = 200) -> HttpResponse:
    response = HttpResponse(text, content_type="text/plain; charset=utf-8", status=status)
    response["Access-Control-Allow-Origin"] = "*"
    return response


def _ping(request, ping_uuid: str, kind: str) -> HttpResponse:
    if is_ratelimited(
        request,
        group="probes.ping",
        key=lambda _group, _request: ping_uuid[:64],
        rate=conf.ping_rate(),
        increment=True,
    ):
        return _answer("rate limited", status=429)
    try:
        parsed = uuid.UUID(ping_uuid)
    except ValueError:
        return _answer("OK")
    detail = ""
    if kind == "fail" and request.method == "POST":
        detail = request.body[:300].decode("utf-8", errors="replace").strip()
    services.record_ping(ping_uuid=parsed, kind=kind, detail=detail)
    return _answer("OK")


@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST", "HEAD"])
def ping_success(request, ping_uuid: str):
    return _ping(request, ping_uuid, "success")


@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST", "HEAD"])
def ping_start(request, ping_uuid: str):
    return _ping(request, ping_uuid, "start")


@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST", "HEAD"])
def ping_fail(request, ping_uuid: str):
    return _ping(request, ping_uuid, "fail")


@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST", "HEAD"])
def ping_exit_status(request, ping_uuid: str, exit_status: int):
    if exit_status > 255:
        return _answer("invalid exit status", status=400)
    return _ping(request, ping_uuid, "success" if exit_status == 0 else "fail")
