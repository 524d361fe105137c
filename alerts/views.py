"""Ingestion endpoints: ``POST /integrations/<key>/<kind>`` (no login, no CSRF: the key in
the URL is the credential). Answers are JSON: DRF's ``{"detail": ...}`` shape, except the
PagerDuty-compatible endpoint, which answers like PagerDuty's Events API v2
(``{"status", "message", "dedup_key"}`` / ``{"status", "message", "errors"}``).

Every accepted body is stored first (``RawPayload``), so nothing sent is lost: a body that
does not parse is kept as "unparsed", its owner team is told, and the sender gets a 400.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from alerts import services, sources
from alerts.models import Integration, RawPayload
from alerts.services import integrations
from opsportal.cache import count_hit

log = logging.getLogger(__name__)

SUFFIXES = {
    "alertmanager": Integration.Kind.ALERTMANAGER,
    "grafana": Integration.Kind.GRAFANA,
    "v2/enqueue": Integration.Kind.PAGERDUTY,
    "generic": Integration.Kind.GENERIC,
}
RATE_WINDOW = 60


def _answer(pagerduty: bool, status: int, message: str, *, errors=None, **extra) -> JsonResponse:
    if pagerduty:
        body = {"status": "success" if status < 300 else _pd_status(status), "message": message, **extra}
        if errors is not None:
            body["errors"] = errors
    else:
        body = {"detail": message, **extra} if status >= 300 else {"status": "success", **extra}
        if errors is not None and status >= 300:
            body["errors"] = errors
    return JsonResponse(body, status=status)


def _pd_status(status: int) -> str:
    return {400: "invalid event", 404: "invalid event", 413: "invalid event", 429: "throttle event"}.get(
        status, "error"
    )


def over_limit(integration: Integration) -> int:
    """Seconds until the window ends when over the integration's rate, else 0. Fails open
    when the cache is down (alerts matter more than the limit)."""
    now = time.time()
    slot = int(now // RATE_WINDOW)
    try:
        # keyed by the key's digest too: a database that reuses ids (SQLite after a rollback,
        # a restored backup) must not inherit another integration's count
        count = count_hit(f"alerts:rate:{integration.pk}:{integration.key_digest[:16]}:{slot}", RATE_WINDOW)
    except Exception:  # any cache failure: let the alert in
        log.warning("alerts: rate-limit cache unavailable; not limiting", exc_info=True)
        return 0
    if count > integration.rate_limit_per_minute:
        return max(1, int(RATE_WINDOW - (now % RATE_WINDOW)) + 1)
    return 0


@csrf_exempt
def ingest(request, key: str, suffix: str = ""):
    pagerduty = suffix == "v2/enqueue"
    if request.method != "POST":
        response = _answer(pagerduty, 405, f'Method "{request.method}" not allowed; POST the payload.')
        response["Allow"] = "POST"
        return response
    integration = integrations.integration_for_key(key)
    if integration is None or integration.kind == Integration.Kind.EMAIL:
        return _answer(pagerduty, 404, "Unknown or revoked integration key.")
    if suffix and SUFFIXES.get(suffix) != integration.kind:
        path = integrations.ingest_path(key, integration.kind)
        return _answer(
            pagerduty, 404, f"This integration takes {integration.get_kind_display()} payloads at {path}."
        )
    pagerduty = integration.kind == Integration.Kind.PAGERDUTY
    retry = over_limit(integration)
    if retry:
        response = _answer(
            pagerduty, 429, f"Over {integration.rate_limit_per_minute} requests a minute; retry later."
        )
        response["Retry-After"] = str(retry)
        return response
    cap = settings.ALERTS_MAX_PAYLOAD_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > cap:
        return _answer(pagerduty, 413, f"The payload is larger than {cap} bytes.")
    try:
        body = request.body
    except RequestDataTooBig:
        return _answer(pagerduty, 413, f"The payload is larger than {cap} bytes.")
    if len(body) > cap:
        return _answer(pagerduty, 413, f"The payload is larger than {cap} bytes.")
    content_type = request.META.get("CONTENT_TYPE", "")
    try:
        parsed = integrations.parse(integration, body)
    except sources.ParseError as exc:
        payload = services.record_payload(
            integration=integration, body=body, content_type=content_type,
            outcome=RawPayload.Outcome.UNPARSED, error=exc.message if not pagerduty else "; ".join(exc.errors),
        )  # fmt: skip
        services.payload_unparsed(integration=integration, payload=payload)
        return _answer(pagerduty, 400, exc.message, errors=exc.errors)
    services.receive(integration=integration, body=body, content_type=content_type, alerts=parsed)
    if pagerduty:
        return _answer(True, 202, "Event processed", dedup_key=parsed[0].dedup_key)
    return _answer(False, 202, "", alerts=len(parsed))
