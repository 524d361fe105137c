"""/metrics: Prometheus exposition, for a bearer token or an allowed network only."""

from __future__ import annotations

import hmac
import ipaddress

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from metrics.prometheus import registry


def _token_ok(request) -> bool:
    token = settings.METRICS_TOKEN
    if not token:
        return False
    scheme, _, given = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def _network_ok(request) -> bool:
    networks = settings.METRICS_ALLOWED_NETWORKS
    if not networks:
        return False
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(n, strict=False) for n in networks)


@never_cache
@require_GET
def prometheus(request):
    if not settings.METRICS_TOKEN and not settings.METRICS_ALLOWED_NETWORKS:
        raise Http404("Metrics export is not configured.")
    if not (_token_ok(request) or _network_ok(request)):
        raise PermissionDenied("Not allowed to scrape metrics.")
    # The classic text format (0.0.4): every Prometheus and Grafana Agent version reads it.
    body = generate_latest(registry(timezone.now()))
    return HttpResponse(body, content_type=CONTENT_TYPE_PLAIN_0_0_4)
