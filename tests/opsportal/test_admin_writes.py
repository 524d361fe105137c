"""Every registered admin writes through the services (or is read-only), and no admin page
answers 500.

Three layers of proof:
1. structure: every ModelAdmin in the registry derives from the service base and leaves the
   write methods Django calls to it (``opsportal/admin_base.py``);
2. behaviour: the registry walk below opens every admin page on lived-in demo data, posts
   every change form back, runs every action and deletes, as a superuser - and
   ``tests/write_audit.py`` (installed for the whole suite) fails any request that writes to
   the database from outside a ``services`` module;
3. the check is alive: an admin that saves by itself is caught (last test).
"""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.db import transaction
from django.test import override_settings
from django.urls import NoReverseMatch, reverse

from opsportal.admin_base import WRITE_METHODS, ServiceAdminMixin
from tests.htmlforms import form_data
from tests.write_audit import WriteOutsideService

pytestmark = pytest.mark.django_db


def _registry():
    return sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)


def _url(model, view, *args):
    opts = model._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=args)


def test_every_registered_admin_derives_from_the_service_base():
    offenders = []
    for model, model_admin in _registry():
        label = model._meta.label
        if not isinstance(model_admin, ServiceAdminMixin):
            offenders.append(f"{label}: {type(model_admin).__name__} does not derive from the service base")
            continue
        for name in WRITE_METHODS:
            owner = next(klass for klass in type(model_admin).__mro__ if name in vars(klass))
            if owner is not ServiceAdminMixin:
                offenders.append(f"{label}: {name} is overridden in {owner.__qualname__}")
    assert not offenders, "\n".join(offenders)


def test_an_admin_without_a_hook_is_read_only_for_that_write(rf, superuser):
    """Permissions follow the hooks: no create_object, no add button - whatever the role holds."""
    from notifications.models import Notification

    request = rf.get("/admin/")
    request.user = superuser
    log_admin = admin.site._registry[Notification]
    assert not log_admin.has_add_permission(request)
    assert not log_admin.has_change_permission(request)
    assert not log_admin.has_delete_permission(request)


@pytest.fixture
def demo(db):
    with override_settings(DEBUG=True):
        call_command("seed_demo", verbosity=0)


def _objects(model, model_admin, request, limit=1):
    return list(model_admin.get_queryset(request).order_by("-pk")[:limit])


def test_walk_every_admin_page_post_every_form_and_run_every_action(client, superuser, demo, rf):
    """On demo data, as a superuser: no page answers 500 and every write goes through a service
    (a write from anywhere else raises WriteOutsideService inside the request)."""
    client.force_login(superuser)
    request = rf.get("/admin/")
    request.user = superuser
    problems: list[str] = []
    saved: list[str] = []
    unsaved: list[str] = []
    walked = 0

    def check(response, what):
        if response.status_code >= 500:
            problems.append(f"{what}: HTTP {response.status_code}")

    for model, model_admin in _registry():
        label = model._meta.label
        walked += 1
        check(client.get(_url(model, "changelist")), f"{label} changelist")
        if model_admin.has_add_permission(request):
            check(client.get(_url(model, "add")), f"{label} add form")
        for obj in _objects(model, model_admin, request):
            change_url = _url(model, "change", obj.pk)
            page = client.get(change_url)
            check(page, f"{label} change page")
            check(client.get(_url(model, "history", obj.pk)), f"{label} history")
            history = getattr(model, "history", None)
            if history is not None and hasattr(history, "model"):
                version = history.model.objects.filter(**{model._meta.pk.attname: obj.pk}).first()
                if version is not None:
                    try:
                        url = _url(model, "simple_history", obj.pk, version.history_id)
                    except NoReverseMatch:
                        url = None
                    if url:
                        check(client.get(url), f"{label} historical version")
                        sid = transaction.savepoint()
                        try:
                            posted = client.post(url, {})
                        except WriteOutsideService as exc:
                            problems.append(f"{label} revert: {exc}")
                        else:
                            # Revert is refused unless the admin restores through a service.
                            if model_admin.revert_disabled(request, obj) and posted.status_code != 405:
                                problems.append(f"{label}: revert answered {posted.status_code}, not 405")
                        finally:
                            transaction.savepoint_rollback(sid)
            if page.status_code == 200 and model_admin.has_change_permission(request, obj):
                data = form_data(page.content.decode(), f"{model._meta.model_name}_form")
                data["_save"] = ["Save"]
                sid = transaction.savepoint()
                try:
                    posted = client.post(change_url, data)
                    check(posted, f"{label} change form posted back unchanged")
                    if posted.status_code == 302:
                        saved.append(label)
                    else:
                        unsaved.append(
                            f"{label}: {posted.context['errors'] if posted.context else posted.status_code}"
                        )
                except WriteOutsideService as exc:
                    problems.append(f"{label} change form: {exc}")
                finally:
                    transaction.savepoint_rollback(sid)
            for action in model_admin.get_actions(request):
                if action == "delete_selected":
                    continue
                sid = transaction.savepoint()
                try:
                    response = client.post(
                        _url(model, "changelist"),
                        {"action": action, "_selected_action": [obj.pk], "apply": "1", "index": 0},
                    )
                    check(response, f"{label} action {action}")
                except WriteOutsideService as exc:
                    problems.append(f"{label} action {action}: {exc}")
                finally:
                    transaction.savepoint_rollback(sid)
            if model_admin.has_delete_permission(request, obj):
                check(client.get(_url(model, "delete", obj.pk)), f"{label} delete page")
                sid = transaction.savepoint()
                try:
                    check(client.post(_url(model, "delete", obj.pk), {"post": "yes"}), f"{label} delete")
                except WriteOutsideService as exc:
                    problems.append(f"{label} delete: {exc}")
                finally:
                    transaction.savepoint_rollback(sid)
    assert walked == len(_registry()) >= 30
    assert not problems, "\n".join(problems)
    # The walk really wrote: change forms posted back unchanged are saved (through services).
    assert not unsaved, "\n".join(unsaved)
    assert len(saved) >= 20, saved


def test_an_admin_that_saves_by_itself_is_caught(client, superuser, monkeypatch):
    """The check is alive: a hook that writes the model itself fails the request."""
    from catalog.models import Team
    from tests.factories import TeamFactory

    team = TeamFactory(name="Payments")
    team_admin = admin.site._registry[Team]

    def update_object(request, obj, form, formsets):
        obj.save()  # the defect the base exists to prevent: no service, no rules, no audit
        return obj

    monkeypatch.setattr(team_admin, "update_object", update_object)
    client.force_login(superuser)
    page = client.get(_url(Team, "change", team.pk))
    data = form_data(page.content.decode(), "team_form")
    data["_save"] = ["Save"]
    with pytest.raises(WriteOutsideService, match="catalog_team written outside a service"):
        client.post(_url(Team, "change", team.pk), data)
