"""The role matrix (``opsportal/role_matrix.py``) is what every door answers, for every role.

The test enumerates the doors itself - every operation of the OpenAPI schema, every registered
admin with its pages and actions, every page of the URL configuration - so a new endpoint,
admin, action or page without a row fails the suite. Each door is then tried as each role on
the demo data (plus rows each person owns), and what it answered is compared with the row.
Reads are checked by what they return: "own rows only" means the list holds the person's rows
and nobody else's.

``ROLE_MATRIX_WRITE=/path/file.py pytest tests/test_role_matrix.py`` writes what was observed
in the matrix's format, for reviewing a change.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager

import pytest
import yaml
from django.contrib import admin
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.test import APIClient

from opsportal import role_matrix
from tests.role_world import REFUSED, World, admin_cell, has_save_button, scope_of, world

pytestmark = pytest.mark.django_db(transaction=False)

ROLE_KEYS = [key for key, _ in role_matrix.ROLES]


@contextmanager
def _rolled_back():
    sid = transaction.savepoint()
    try:
        yield
    finally:
        transaction.savepoint_rollback(sid)


def _client(user, api=False):
    client = APIClient() if api else __import__("django.test", fromlist=["Client"]).Client()
    client.raise_request_exception = False  # a 500 is an answer to record, not a crash
    if user is not None:
        client.force_login(user)
    return client


# --- the doors -------------------------------------------------------------------------------


def schema_operations(client) -> list[tuple[str, str, dict]]:
    response = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    ops = []
    for path, item in schema["paths"].items():
        for method, op in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                ops.append((method.upper(), path, op))
    return ops


def admin_doors() -> list[tuple[str, object, object]]:
    return sorted(
        (
            (model._meta.label_lower, model, model_admin)
            for model, model_admin in admin.site._registry.items()
        ),
        key=lambda row: row[0],
    )


def page_doors() -> list[tuple[str, str]]:
    """(url name, pattern) of every page outside the admin and the API router."""

    def walk(patterns, prefix="", namespace=None):
        for p in patterns:
            if isinstance(p, URLResolver):
                yield from walk(p.url_patterns, prefix + str(p.pattern), p.namespace or namespace)
            elif isinstance(p, URLPattern):
                name = f"{namespace}:{p.name}" if namespace and p.name else p.name
                yield prefix + str(p.pattern), name

    doors = []
    for pattern, name in walk(get_resolver().url_patterns):
        if pattern.startswith("admin/") or (
            pattern.startswith("api/v1/") and name not in role_matrix.API_PAGES
        ):
            continue
        doors.append((name or pattern, pattern))
    return sorted(set(doors))


# --- sample objects for paths ----------------------------------------------------------------


def _model_for(path: str):
    from django.urls import resolve

    sample = path.replace("{id}", "1").replace("{slug}", "x")
    match = resolve(sample)
    view = match.func
    cls = getattr(view, "cls", None)
    serializer = getattr(cls, "serializer_class", None)
    queryset = getattr(cls, "queryset", None)
    if queryset is not None:
        return queryset.model, cls
    if serializer is not None and hasattr(serializer, "Meta"):
        return serializer.Meta.model, cls
    if cls is not None:  # a viewset that builds its queryset in get_queryset()
        view = cls()
        view.swagger_fake_view, view.kwargs, view.request, view.action = True, {}, None, "list"
        try:
            return view.get_queryset().model, cls
        except Exception:  # a view that needs a request: no sample model
            return None, cls
    return None, cls


def _sample(model, label: str, w: World, user_key: str, own: bool):
    """An object for a detail path: the person's own row (own=True) or someone else's."""
    owned = w.owned.get(label)
    if owned is not None:
        if own:
            ids = owned.get(user_key, [])
        else:  # a row owned by someone else: "other", or anyone but this person
            mine = set(owned.get(user_key, []))
            ids = [i for i in owned.get("other", []) if i not in mine] or [
                pk for pk in model._default_manager.values_list("pk", flat=True) if pk not in mine
            ]
        return model._default_manager.filter(pk__in=ids).order_by("pk").first()
    return model._default_manager.order_by("-pk").first()


def _fill(path: str, obj) -> str:
    if obj is None:
        return path
    return path.replace("{id}", str(obj.pk)).replace("{slug}", str(getattr(obj, "slug", obj.pk)))


def _ids(data) -> set[int] | None:
    if isinstance(data, dict) and "results" in data:
        data = data["results"]
    if isinstance(data, list) and all(isinstance(row, dict) and "id" in row for row in data):
        return {row["id"] for row in data}
    return None


# --- observing --------------------------------------------------------------------------------


def observe_api(method: str, path: str, user_key: str, w: World) -> str:
    user = w.users[user_key]
    client = _client(user, api=True)
    model, _cls = _model_for(path)
    label = model._meta.label_lower if model is not None else ""
    detail = "{id}" in path or "{slug}" in path

    def call(url):
        with _rolled_back():
            if method == "GET":
                return client.get(url, {"page_size": 200})
            body = json.dumps({})
            return getattr(client, method.lower())(url, body, content_type="application/json")

    if not detail:
        response = call(path)
        if response.status_code >= 500:
            return f"!{response.status_code}"
        if response.status_code in REFUSED:
            return "-"
        if method == "GET":
            ids = (
                _ids(response.json())
                if response.get("Content-Type", "").startswith("application/json")
                else None
            )
            return scope_of(label, ids, user_key, w) if ids is not None and label else "y"
        return "y"
    others = _sample(model, label, w, user_key, own=False) if model is not None else None
    if others is None:
        return "?"
    response = call(_fill(path, others))
    if response.status_code >= 500:
        return f"!{response.status_code}"
    if response.status_code not in REFUSED:
        return "r" if method == "GET" else "y"
    if label in w.owned:
        mine = _sample(model, label, w, user_key, own=True)
        if mine is not None:
            own_response = call(_fill(path, mine))
            if own_response.status_code >= 500:
                return f"!{own_response.status_code}"
            if own_response.status_code not in REFUSED:
                return "o"
    return "-"


def observe_admin(label: str, model, model_admin, user_key: str, w: World) -> str:
    user = w.users[user_key]
    client = _client(user)
    opts = model._meta
    url = lambda view, *args: reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=args)  # noqa: E731
    ops = ""
    own_only = False
    listing = client.get(url("changelist"))
    if listing.status_code >= 500:
        return f"!{listing.status_code}"
    if listing.status_code == 302 and listing.get("Location", "").rstrip("/").endswith("/change"):
        listing = client.get(listing["Location"])  # a single-row admin (support settings)
    if listing.status_code == 200:
        ops += "l"
        cl = listing.context.get("cl") if listing.context else None
        if cl is not None and label in w.owned:
            ids = {obj.pk for obj in cl.result_list}
            own_only = scope_of(label, ids, user_key, w) == "o"
    add = client.get(url("add"))
    if add.status_code >= 500:
        return f"!{add.status_code}"
    if add.status_code == 200:
        ops += "a"
    obj = _sample(model, label, w, user_key, own=False) if label in w.owned else None
    if obj is None or (label in w.owned and own_only):
        obj = _sample(model, label, w, user_key, own=True) if label in w.owned else None
    if obj is None:
        obj = model._default_manager.order_by("-pk").first()
    if obj is None:
        return admin_cell(ops, own_only) + "?"
    change = client.get(url("change", obj.pk))
    if change.status_code >= 500:
        return f"!{change.status_code}"
    if change.status_code == 200:
        ops += "v"
        if has_save_button(change.content):
            ops += "e"
    history = client.get(url("history", obj.pk))
    if history.status_code >= 500:
        return f"!{history.status_code}"
    if history.status_code == 200:
        ops += "h"
    delete = client.get(url("delete", obj.pk))
    if delete.status_code >= 500:
        return f"!{delete.status_code}"
    if delete.status_code == 200:
        ops += "d"
    return admin_cell(ops, own_only)


def observe_action(model, action: str, user_key: str, w: World) -> str:
    user = w.users[user_key]
    if user is None:
        return "-"
    client = _client(user)
    opts = model._meta
    response = client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
    if response.status_code == 302 and response.get("Location", "").rstrip("/").endswith("/change"):
        return "-"
    if response.status_code != 200 or not response.context or not response.context.get("action_form"):
        return "-"
    choices = {value for value, _label in response.context["action_form"].fields["action"].choices}
    return "y" if action in choices else "-"


def observe_page(name: str, pattern: str, user_key: str, w: World, args: dict) -> str:
    user = w.users[user_key]
    client = _client(user)
    path = args[name](w) if name in args else "/" + pattern
    response = client.get(path)
    code = response.status_code
    if code == 500:
        return f"!{code}"
    if 200 <= code < 300:
        return "y"
    if code in (301, 302, 303):
        location = response.get("Location", "")
        if "/login/" in location:
            return "-"
        return "302"
    if code in REFUSED:
        return "-"
    return str(code)


# --- sample arguments for pages with parameters ------------------------------------------------


def _page_args():
    from oncall.services import ack_token

    def runbook(w):
        from runbooks.models import Runbook

        return Runbook.objects.order_by("pk").first().get_absolute_url()

    def feed(w):
        from oncall.models import CalendarFeed

        return CalendarFeed.objects.filter(user=w.other).first().path

    def ack(w):
        from oncall.models import Page

        page = Page.objects.order_by("-pk").first()
        return reverse("oncall:acknowledge", args=[ack_token(page, w.other)])

    def public_incident(w):
        from status.models import PublicIncident

        record = PublicIncident.objects.filter(public=True).order_by("-pk").first()
        return reverse("status:incident", args=[record.public_id])

    def check_in(w):
        from operations.models import Responsibility
        from operations.tokens import make_token

        duty = Responsibility.objects.exclude(owner=None).order_by("pk").first()
        return reverse("operations:check-in", args=[make_token(duty.pk, duty.next_due_at)])

    def reset(w):
        return reverse("password_reset_confirm", args=["MQ", "set-password"])

    return {
        "runbooks:detail": runbook,
        "runbooks:review": lambda w: runbook(w) + "review/",
        "runbooks:record-test": lambda w: runbook(w) + "test/",
        "oncall:ical": feed,
        "oncall:acknowledge": ack,
        "status:incident": public_incident,
        "status:history_month": lambda w: reverse("status:history_month", args=[2026, 11]),
        "status:confirm": lambda w: reverse("status:confirm", args=["not-a-real-token"]),
        "status:unsubscribe": lambda w: reverse("status:unsubscribe", args=["not-a-real-token"]),
        "operations:check-in": check_in,
        "password_reset_confirm": reset,
        "probes:ping": lambda w: _ping_url(""),
        "probes:ping-start": lambda w: _ping_url("/start"),
        "probes:ping-fail": lambda w: _ping_url("/fail"),
        "probes:ping-exit-status": lambda w: _ping_url("/0"),
        # ingestion endpoints take POST only; a GET is 405 before the key is even looked at
        "alerts:ingest": lambda w: reverse("alerts:ingest", args=["0" * 40]),
        "alerts:ingest-kind": lambda w: f"/integrations/{'0' * 40}/alertmanager",
    }


def _ping_url(suffix: str) -> str:
    from probes.models import Probe

    probe = Probe.objects.filter(kind=Probe.Kind.HEARTBEAT).order_by("pk").first()
    return f"/ping/{probe.uuid}{suffix}"


# --- the tests --------------------------------------------------------------------------------


def _compare(kind: str, expected: dict, observed: dict) -> list[str]:
    problems = []
    for key in sorted(set(expected) | set(observed)):
        if key not in expected:
            problems.append(f"{kind} {key}: no row in opsportal/role_matrix.py (observed {observed[key]})")
            continue
        if key not in observed:
            problems.append(f"{kind} {key}: a row for a door that does not exist")
            continue
        for role, want, got in zip(ROLE_KEYS, expected[key], observed[key], strict=True):
            if want != got:
                problems.append(f"{kind} {key} as {role}: expected {want!r}, the door answered {got!r}")
    return problems


def _dump(name: str, observed: dict) -> None:
    target = os.environ.get("ROLE_MATRIX_WRITE")
    if not target:
        return
    with open(f"{target}.{name}", "w", encoding="utf-8") as fh:
        fh.write(role_matrix.render(observed))


@pytest.fixture
def the_world(db):
    return world()


def test_every_api_operation_answers_each_role_as_the_matrix_says(the_world):
    operations = schema_operations(_client(the_world.users["superuser"]))
    assert len(operations) >= 140
    observed = {}
    for method, path, _op in operations:
        observed[f"{method} {path}"] = tuple(observe_api(method, path, role, the_world) for role in ROLE_KEYS)
    _dump("api", observed)
    problems = _compare("API", role_matrix.api(), observed)
    assert not problems, "\n".join(problems)


def test_every_admin_page_and_action_answers_each_role_as_the_matrix_says(the_world):
    observed = {}
    for label, model, model_admin in admin_doors():
        observed[label] = tuple(
            observe_admin(label, model, model_admin, role, the_world) for role in ROLE_KEYS
        )
        superuser_request = (
            __import__("django.test", fromlist=["RequestFactory"]).RequestFactory().get("/admin/")
        )
        superuser_request.user = the_world.users["superuser"]
        for action in model_admin.get_actions(superuser_request):
            if action == "delete_selected":
                continue
            observed[f"{label}:{action}"] = tuple(
                observe_action(model, action, role, the_world) for role in ROLE_KEYS
            )
    _dump("admin", observed)
    problems = _compare("admin", role_matrix.admin(), observed)
    assert not problems, "\n".join(problems)


def test_every_page_answers_each_role_as_the_matrix_says(the_world):
    args = _page_args()
    observed = {}
    for name, pattern in page_doors():
        if "<" in pattern and name not in args and name not in role_matrix.UNPROBED_PAGES:
            observed[name] = ("no sample arguments",) * len(ROLE_KEYS)
            continue
        if name in role_matrix.UNPROBED_PAGES:
            observed[name] = role_matrix.pages()[name]
            continue
        observed[name] = tuple(observe_page(name, pattern, role, the_world, args) for role in ROLE_KEYS)
    _dump("pages", observed)
    problems = _compare("page", role_matrix.pages(), observed)
    assert not problems, "\n".join(problems)


def test_the_docs_pages_show_the_matrix_as_it_is():
    """The "Roles and permissions" table of docs/operations/security.md and
    docs/roles-and-permissions.md are generated from the matrix (``manage.py role_matrix
    --write``): a changed row without them fails."""
    from pathlib import Path

    from django.conf import settings

    from opsportal.management.commands.role_matrix import summary_block

    base = Path(settings.BASE_DIR)
    summary = (base / role_matrix.SUMMARY_PATH).read_text(encoding="utf-8")
    assert summary_block() in summary, "run: python manage.py role_matrix --write"
    docs = (base / role_matrix.DOCS_PATH).read_text(encoding="utf-8")
    assert docs == role_matrix.full_reference()
