"""Public status pages: no login, no JavaScript, served from the cache (status.cache).

Every page but the subscription form is the same for every visitor, so it is rendered once
per change and sent with ``Cache-Control: public``. The subscription form carries a CSRF
token and lives on its own page so the front page stays cacheable."""

from __future__ import annotations

import gzip
import json
import logging
from datetime import UTC, date, datetime, timedelta
from functools import wraps

from django.conf import settings
from django.contrib.syndication.views import Feed
from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.feedgenerator import Atom1Feed, Rss201rev2Feed
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods
from django_ratelimit import ALL
from django_ratelimit.core import is_ratelimited

from opsportal.errors import InvalidInput
from opsportal.links import absolute_reverse
from opsportal.text import xml_safe
from status import cache, selectors, services

log = logging.getLogger(__name__)


def enabled() -> bool:
    return bool(getattr(settings, "STATUS_PAGE_ENABLED", True))


def page_name() -> str:
    return getattr(settings, "STATUS_PAGE_NAME", "") or getattr(settings, "SITE_NAME", "") or "Status"


def public_page(view):
    """404 when the status page is disabled; public caching headers on success."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not enabled():
            raise Http404("The status page is disabled.")
        response = view(request, *args, **kwargs)
        if response.status_code == 200 and not response.has_header("Cache-Control"):
            if response["Content-Type"].startswith("text/html"):
                # Shared caches (CDN, proxy) keep the page for the TTL; browsers revalidate,
                # so a visitor reloading during an outage sees the latest update at once.
                response["Cache-Control"] = f"public, max-age=0, s-maxage={cache.ttl()}"
            else:
                response["Cache-Control"] = f"public, max-age={cache.ttl()}"
        return response

    return wrapper


def _base_context() -> dict:
    return {"page_name": page_name(), "ttl": cache.ttl()}


def _snapshot() -> dict:
    return cache.cached("snapshot", selectors.snapshot, stale_ok=True)


def _compressible(body: str) -> tuple[bytes, bytes]:
    raw = body.encode()
    return raw, gzip.compress(raw, compresslevel=6)


def _send(request, payload: tuple[bytes, bytes], content_type: str = "text/html; charset=utf-8"):
    """The page, gzip-compressed once at build time when the client accepts it."""
    raw, compressed = payload
    if "gzip" in request.META.get("HTTP_ACCEPT_ENCODING", ""):
        response = HttpResponse(compressed, content_type=content_type)
        response["Content-Encoding"] = "gzip"
    else:
        response = HttpResponse(raw, content_type=content_type)
    response["Vary"] = "Accept-Encoding"
    return response


@require_GET
@public_page
def index(request):
    def build() -> tuple[bytes, bytes]:
        snap = _snapshot()
        return _compressible(
            render_to_string("status/index.html", {**_base_context(), "snap": snap, "legend": _legend()})
        )

    return _send(request, cache.cached("index.html", build, stale_ok=True))


def _legend():
    from status.models import ComponentStatus

    return [(s.value, s.label) for s in ComponentStatus]


@require_GET
@public_page
def incident(request, public_id: str):
    def build() -> str:
        data = selectors.incident_detail(public_id)
        if data is None:
            return ""
        return render_to_string("status/incident.html", {**_base_context(), "incident": data})

    html = cache.cached(f"incident:{public_id}", build)
    if not html:
        raise Http404("No such incident.")
    return HttpResponse(html)


@require_GET
@public_page
def history(request, year: int | None = None, month: int | None = None):
    now = timezone.now()
    months = selectors.archive_months(now=now)
    if year is None:
        year, month = months[0].year, months[0].month
    if not (1 <= (month or 0) <= 12) or not (2000 <= year <= 9999):
        raise Http404("No such month.")
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC)
    if start > now:
        raise Http404("That month has not happened yet.")

    def build() -> str:
        items = selectors.incidents_between(start, end)
        return render_to_string(
            "status/history.html",
            {
                **_base_context(),
                "month": date(year, month, 1),
                "months": months,
                "incidents": items,
                "previous": (start.date() - timedelta(days=1)).replace(day=1),
                "next": end.date() if end <= now else None,
            },
        )

    return HttpResponse(cache.cached(f"history:{year}-{month:02d}", build))


@require_GET
@public_page
def summary_json(request):
    def build() -> tuple[bytes, bytes]:
        return _compressible(json.dumps(_summary(_snapshot()), cls=DjangoJSONEncoder))

    response = _send(request, cache.cached("summary.json", build, stale_ok=True), "application/json")
    response["Access-Control-Allow-Origin"] = "*"
    return response


def _summary(snap: dict) -> dict:
    """Statuspage-like summary (page, status, components, incidents, scheduled_maintenances)."""
    return {
        "page": {
            "name": page_name(),
            "url": absolute_reverse("status:index"),
            "time_zone": "Etc/UTC",
            "updated_at": snap["built_at"],
        },
        "status": {"indicator": snap["indicator"], "description": snap["banner"]},
        "components": [
            {
                "id": c["id"],
                "name": c["name"],
                "description": c["description"] or None,
                "group_name": c["group"] or None,
                "status": c["status"],
                "position": c["position"],
                "updated_at": c["updated_at"],
                "uptime_90d": c["uptime"],
            }
            for c in snap["components"]
        ],
        "incidents": [
            {
                "id": i["public_id"],
                "name": i["title"],
                "status": i["status"],
                "impact": i["impact"],
                "created_at": i["started_at"],
                "updated_at": i["updated_at"],
                "resolved_at": i["resolved_at"],
                "shortlink": absolute_reverse("status:incident", public_id=i["public_id"]),
                "components": i["components"],
                "incident_updates": [
                    {"id": u["id"], "status": u["status"], "body": u["body"], "created_at": u["created_at"]}
                    for u in i["updates"]
                ],
            }
            for i in snap["incidents"]
        ],
        "scheduled_maintenances": [
            {
                "id": m["id"],
                "name": m["name"],
                "status": m["status"],
                "description": m["description"],
                "scheduled_for": m["starts_at"],
                "scheduled_until": m["ends_at"],
                "components": m["components"],
            }
            for m in snap["maintenances"]
        ],
    }


class UpdatesFeed(Feed):
    """External updates of public incidents, newest first.

    Text goes through ``xml_safe``: services refuse control characters now, but a row
    stored before that (or written around the services) must not make the feed raise
    for every visitor - XML 1.0 cannot carry them."""

    feed_type = Atom1Feed
    description = "Incident updates"

    def title(self):
        return xml_safe(f"{page_name()} - status updates")

    def link(self):
        return reverse("status:index")

    def items(self):
        return selectors.recent_external_updates(limit=50)

    def item_title(self, item):
        return xml_safe(f"{item['incident_title']} - {item['status'].capitalize()}")

    def item_description(self, item):
        return xml_safe(item["body"])

    def item_link(self, item):
        return reverse("status:incident", kwargs={"public_id": item["incident_public_id"]})

    def item_guid(self, item):
        return (
            absolute_reverse("status:incident", public_id=item["incident_public_id"])
            + f"#update-{item['id']}"
        )

    def item_pubdate(self, item):
        return item["created_at"]

    def item_updateddate(self, item):
        return item["created_at"]


class RssUpdatesFeed(UpdatesFeed):
    feed_type = Rss201rev2Feed


def _feed_view(feed_class, name):
    feed = feed_class()

    @require_GET
    @public_page
    def view(request):
        def build():
            response = feed(request)
            return response["Content-Type"], response.content

        content_type, body = cache.cached(name, build)
        return HttpResponse(body, content_type=content_type)

    return view


atom_feed = _feed_view(UpdatesFeed, "feed.atom")
rss_feed = _feed_view(RssUpdatesFeed, "feed.rss")


# ---------------------------------------------------------------------------------------
# Subscriptions
# ---------------------------------------------------------------------------------------
def subscribe_rate() -> str:
    return getattr(settings, "STATUS_SUBSCRIBE_RATE_LIMIT", "5/m")


def _over_limit(request) -> bool:
    try:
        return is_ratelimited(
            request, group="status.subscribe", key="ip", rate=subscribe_rate(), method=ALL, increment=True
        )
    except Exception:  # cache down: the per-address resend guard still bounds mail
        log.warning("status subscribe rate limit unavailable", exc_info=True)
        return False


def _no_store(response):
    response["Cache-Control"] = "no-store"
    return response


@require_http_methods(["GET", "POST"])
@csrf_protect
@public_page
def subscribe(request):
    context = {**_base_context(), "email": "", "error": "", "done": False}
    status = 200
    if request.method == "POST":
        if _over_limit(request):
            context["error"] = "Too many attempts from your network. Please try again in a few minutes."
            return _no_store(render(request, "status/subscribe.html", context, status=429))
        email = request.POST.get("email", "")[:320]
        try:
            services.request_subscription(email=email)
        except InvalidInput as exc:
            context.update(email=email, error=str(exc))
            status = 400
        else:
            # Same answer whatever the address's state: no subscription oracle.
            context["done"] = True
    return _no_store(render(request, "status/subscribe.html", context, status=status))


@require_GET
@public_page
def confirm(request, token: str):
    subscriber = services.confirm_subscription(token=token)
    context = {**_base_context(), "ok": subscriber is not None, "action": "confirm"}
    return _no_store(
        render(request, "status/subscription_result.html", context, status=200 if subscriber else 400)
    )


@csrf_exempt  # RFC 8058 one-click: the signed token is the credential, mail clients POST
@require_http_methods(["GET", "POST"])
@public_page
def unsubscribe(request, token: str):
    subscriber = services.unsubscribe(token=token)
    context = {**_base_context(), "ok": subscriber is not None, "action": "unsubscribe"}
    return _no_store(
        render(request, "status/subscription_result.html", context, status=200 if subscriber else 400)
    )
