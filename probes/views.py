"""Heartbeat ping endpoints, compatible with the healthchecks.io ping protocol:

    /ping/<uuid>          success (also /ping/<uuid>/0)
    /ping/<uuid>/start    the job started (start-to-success duration is recorded)
    /ping/<uuid>/fail     the job failed: down at once (also /ping/<uuid>/<1-255>)

GET, POST or HEAD, no login, no CSRF token. The answer is a plain "OK" whether or not the
UUID exists (a 429 when the URL is pinged too often, a 503 when the database cannot take a
ping that must be written at once), so the endpoint reveals nothing. probes/ingest.py keeps the
path cheap: success pings are buffered and written in batches.
"""

from __future__ import annotations

import uuid

from django.db import DatabaseError
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from probes import ingest


def _answer(text: str, status: int = 200) -> HttpResponse:
    response = HttpResponse(text, content_type="text/plain; charset=utf-8", status=status)
    response["Access-Control-Allow-Origin"] = "*"
    # What never_cache would set, without its header parsing on the portal's busiest path.
    response["Cache-Control"] = "max-age=0, no-cache, no-store, must-revalidate, private"
    response["Expires"] = "Thu, 01 Jan 1970 00:00:00 GMT"
    return response


def _ping(request, ping_uuid: str, kind: str) -> HttpResponse:
    if ingest.over_limit(ping_uuid):
        return _answer("rate limited", status=429)
    try:
        parsed = uuid.UUID(ping_uuid)
    except ValueError:
        return _answer("OK")
    detail = ""
    if kind == "fail" and request.method == "POST":
        detail = request.body[:300].decode("utf-8", errors="replace").strip()
    try:
        ingest.accept(parsed, kind, detail)
    except DatabaseError:
        return _answer("unavailable, ping again", status=503)
    return _answer("OK")


@csrf_exempt
@require_http_methods(["GET", "POST", "HEAD"])
def ping_success(request, ping_uuid: str):
    return _ping(request, ping_uuid, "success")


@csrf_exempt
@require_http_methods(["GET", "POST", "HEAD"])
def ping_start(request, ping_uuid: str):
    return _ping(request, ping_uuid, "start")


@csrf_exempt
@require_http_methods(["GET", "POST", "HEAD"])
def ping_fail(request, ping_uuid: str):
    return _ping(request, ping_uuid, "fail")


@csrf_exempt
@require_http_methods(["GET", "POST", "HEAD"])
def ping_exit_status(request, ping_uuid: str, exit_status: int):
    if exit_status > 255:
        return _answer("invalid exit status", status=400)
    return _ping(request, ping_uuid, "success" if exit_status == 0 else "fail")
