"""Laptop-first layout: no page of the admin or the portal scrolls sideways at 1366x768 or
1280x800 (issue 21, part 4).

The pages are not listed by hand: they are enumerated from the admin registry (every
changelist, one change page per model, every app index and every custom admin view a
ModelAdmin or the site adds) and from the URLconf (every page outside the admin and the API),
so a page added later is covered without touching this file. A page whose path has a
parameter needs a sample here (``PORTAL_SAMPLES`` or ``ADMIN_ARGS``): the test fails for a new
one without a sample instead of skipping it. Data: the demo organisation (``seed_demo``), so
tables hold realistic rows. Screenshots of every page at 1366x768 are saved under
test-artifacts/layout/ (and of any failure at either width).
"""

from __future__ import annotations

import io
import re

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.test import override_settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests.browser.conftest import ARTIFACTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

VIEWPORTS = ((1366, 768), (1280, 800))
DEMO_PASSWORD = "opsportal-demo"
SHOTS = ARTIFACTS / "layout"

# Standard ModelAdmin views; everything else under a model's prefix is a custom view.
_STANDARD = ("_changelist", "_add", "_history", "_delete", "_change")
# Site views that are not pages to look at (forms of their own tests, JSON, redirects).
_SITE_SKIP = {"login", "logout", "password_change_done", "autocomplete", "jsi18n", "view_on_site"}
# Values for path parameters of custom admin views other than the object's pk.
ADMIN_ARGS = {"verb": "acknowledge"}
# Custom admin views that are not pages: POST-only actions behind the incident room's buttons
# and forms (they refuse GET and redirect back to the room).
_ADMIN_SKIP = {
    "deployments_deployment_decide",
    "postmortems_postmortem_start_from_incident",
    "status_publicincident_publish",
}
# Portal pages that are not HTML pages for people: machine endpoints and feeds. "integrations/":
# alert ingestion from monitoring tools (alerts:ingest, alerts:ingest-kind); "scim/": the SCIM
# 2.0 API for the company directory (JSON, scim:*).
PORTAL_SKIP_PREFIXES = ("api/", "healthz", "metrics/", "integrations/", "scim/")


def _walk(patterns, prefix=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from _walk(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern), p.name, p


def _fill(pattern: str, values: dict) -> str:
    def one(match):
        name = match.group(2)
        if name not in values:
            raise LookupError(name)
        return str(values[name])

    return re.sub(r"<(?:(\w+):)?(\w+)>", one, pattern)


def admin_pages() -> tuple[list[tuple[str, str]], list[str]]:
    """(label, path) of every admin page to check, and the custom views that lack a sample."""
    pages = [("dashboard", reverse("admin:index"))]
    missing = []
    labels = set()
    for model, model_admin in sorted(admin.site._registry.items(), key=lambda kv: kv[0]._meta.label):
        opts = model._meta
        labels.add(opts.app_label)
        base = f"admin:{opts.app_label}_{opts.model_name}"
        pages.append((f"{opts.label_lower} list", reverse(f"{base}_changelist")))
        obj = model._default_manager.order_by("pk").first()
        if obj is not None:
            pages.append((f"{opts.label_lower} change", reverse(f"{base}_change", args=[obj.pk])))
        prefix = reverse(f"{base}_changelist")
        for pattern, name, _p in _walk(model_admin.get_urls()):
            if not name or name.endswith(_STANDARD) or name in _ADMIN_SKIP:
                continue
            values = {**ADMIN_ARGS, "pk": getattr(obj, "pk", 0), "object_id": getattr(obj, "pk", 0)}
            try:
                path = prefix + _fill(pattern, values)
            except LookupError as exc:
                missing.append(f"admin:{name} <{exc}>")
                continue
            if "<" in pattern and obj is None:
                missing.append(f"admin:{name} (no {opts.label_lower} in the demo data)")
                continue
            pages.append((f"admin:{name}", path))
    for label in sorted(labels):
        pages.append((f"{label} app index", reverse("admin:app_list", args=[label])))
    site_custom = [
        (name, pattern)
        for pattern, name, _p in _walk(admin.site.get_urls())
        if name
        and name not in _SITE_SKIP
        and name != "index"
        and name != "app_list"
        and not name.endswith(_STANDARD)
        and not any(
            name.startswith(f"{m._meta.app_label}_{m._meta.model_name}_") for m in admin.site._registry
        )
    ]
    for name, pattern in site_custom:
        if "<" in pattern:
            missing.append(f"admin:{name}")
        else:
            pages.append((f"admin:{name}", reverse(f"admin:{name}")))
    return pages, missing


def _portal_samples():
    from oncall.models import Page
    from oncall.services import ack_token
    from operations.models import Responsibility
    from operations.tokens import make_token
    from runbooks.models import Runbook
    from status.models import PublicIncident

    def runbook():
        return Runbook.objects.order_by("pk").first().get_absolute_url()

    def ack():
        from accounts.models import User

        page = Page.objects.order_by("-pk").first()
        return reverse("oncall:acknowledge", args=[ack_token(page, User.objects.get(username="admin"))])

    def public_incident():
        record = PublicIncident.objects.filter(public=True).order_by("-pk").first()
        return reverse("status:incident", args=[record.public_id])

    def history_month():
        record = PublicIncident.objects.filter(public=True).select_related("incident").order_by("-pk").first()
        started = record.incident.started_at
        return reverse("status:history_month", args=[started.year, started.month])

    def check_in():
        duty = Responsibility.objects.exclude(owner=None).order_by("pk").first()
        return reverse("operations:check-in", args=[make_token(duty.pk, duty.next_due_at)])

    return {
        "runbooks:detail": runbook,
        "oncall:acknowledge": ack,
        "status:incident": public_incident,
        "status:history_month": history_month,
        "operations:check-in": check_in,
        # not pages for people: a calendar feed, POST-only forms, one-time links and pings
        "oncall:ical": None,
        "runbooks:review": None,
        "runbooks:record-test": None,
        "status:confirm": None,
        "status:unsubscribe": None,
        "password_reset_confirm": None,
        "probes:ping": None,
        "probes:ping-start": None,
        "probes:ping-fail": None,
        "probes:ping-exit-status": None,
    }


def portal_pages() -> tuple[list[tuple[str, str]], list[str]]:
    samples = _portal_samples()
    pages, missing = [], []

    def walk(patterns, prefix="", namespace=None):
        for p in patterns:
            if isinstance(p, URLResolver):
                yield from walk(p.url_patterns, prefix + str(p.pattern), p.namespace or namespace)
            elif isinstance(p, URLPattern):
                yield prefix + str(p.pattern), (f"{namespace}:{p.name}" if namespace and p.name else p.name)

    for pattern, name in sorted(set(walk(get_resolver().url_patterns)), key=lambda t: t[0]):
        # re_path patterns start with "^" (e.g. "^integrations/...", "^api/...")
        if pattern.lstrip("^").startswith(("admin/", *PORTAL_SKIP_PREFIXES)):
            continue
        if name in samples:
            if samples[name] is not None:
                pages.append((name, samples[name]()))
        elif "<" in pattern or "(?P" in pattern:
            missing.append(name or pattern)
        else:
            pages.append((name or pattern, "/" + pattern))
    return pages, missing


_MEASURE = """() => ({
  scroll: document.documentElement.scrollWidth,
  inner: window.innerWidth,
  culprits: Array.from(document.querySelectorAll('body *'))
    .filter(el => el.getBoundingClientRect().right > window.innerWidth + 1)
    .filter(el => !el.closest('.results, .ops-table-wrap, pre'))
    .slice(0, 4)
    .map(el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
         (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\\s+/).join('.') : '') +
         ' right=' + Math.round(el.getBoundingClientRect().right)),
})"""


def _slug(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")


def _sign_in(context, base_url: str) -> None:
    page = context.new_page()
    page.goto(f"{base_url}/admin/login/")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base_url}/admin/")
    page.close()


@override_settings(DEBUG=True)
def test_no_admin_or_portal_page_scrolls_sideways_at_laptop_widths(browser, live_server):
    call_command("seed_demo", stdout=io.StringIO())
    from accounts.models import User
    from accounts.services import create_token

    admin_user = User.objects.get(username="admin")
    create_token(user=admin_user, actor=admin_user, name="GitLab CI release gate")  # the token pages
    admin_list, admin_missing = admin_pages()
    portal_list, portal_missing = portal_pages()
    assert not admin_missing + portal_missing, (
        "pages with path parameters and no sample in tests/browser/test_layout_overflow.py: "
        f"{admin_missing + portal_missing}"
    )
    SHOTS.mkdir(parents=True, exist_ok=True)
    overflowing, errors, checked = [], [], set()
    for width, height in VIEWPORTS:
        signed_in = browser.new_context(viewport={"width": width, "height": height})
        anonymous = browser.new_context(viewport={"width": width, "height": height})
        signed_in.set_default_timeout(20_000)
        _sign_in(signed_in, live_server.url)
        tab, anon_tab = signed_in.new_page(), anonymous.new_page()
        for label, path in admin_list + portal_list:
            page = tab
            probe = signed_in.request.get(f"{live_server.url}{path}", max_redirects=0)
            if probe.status in (301, 302) and "/login/" in probe.headers.get("location", ""):
                page = anon_tab
            elif probe.status in (301, 302) and "/login/" in path:
                page = anon_tab  # a page for anonymous visitors only, e.g. the sign-in form
            # follow redirects (a one-row settings list opens its row) from the chosen side
            probe = (anonymous if page is anon_tab else signed_in).request.get(f"{live_server.url}{path}")
            if probe.status >= 500:
                errors.append(f"{label} {path}: {probe.status}")
                continue
            kind = probe.headers.get("content-type", "")
            if probe.status == 405 or "text/html" not in kind:
                continue  # a form's POST target or a download: not a page to look at
            page.goto(f"{live_server.url}{path}")
            checked.add(label)
            measure = page.evaluate(_MEASURE)
            shot = SHOTS / f"{width}-{_slug(label)}.png"
            if measure["scroll"] > measure["inner"]:
                overflowing.append(
                    f"{width}px {label} {path}: {measure['scroll']} > {measure['inner']} {measure['culprits']}"
                )
                page.screenshot(path=str(shot), full_page=True)
            elif width == 1366:
                page.screenshot(path=str(shot))
        signed_in.close()
        anonymous.close()
    assert not errors, errors
    assert not overflowing, "\n".join(overflowing)
    # every registered model's changelist and the dashboard were looked at
    assert "dashboard" in checked
    lists = {f"{m._meta.label_lower} list" for m in admin.site._registry}
    assert lists <= checked, sorted(lists - checked)
    print(f"checked {len(checked)} pages at {len(VIEWPORTS)} widths")  # noqa: T201 (the figure for the report)
