"""Deprovisioning an on-call responder over SCIM: their sessions and API tokens stop working at
once, every schedule, escalation level, duty and open action item naming them is listed, each
owning team's manager is told with that list, and the gap their leaving opens shows on the
schedule page (the existing gap detection)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.utils import timezone

from accounts.models import ApiToken
from accounts.services import create_token
from identity import services
from identity.models import AuditEvent, Departure
from notifications.models import Notification
from oncall import selectors
from tests.factories import TeamFactory, UserFactory
from tests.oncall.factories import LayerFactory, PolicyFactory, ScheduleFactory, level
from tests.operations.factories import ResponsibilityFactory
from tests.postmortems.factories import item, postmortem

pytestmark = pytest.mark.django_db
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@pytest.fixture
def world(responder, manager):
    """The responder rotates weekly with a colleague on Payments primary (the responder is on
    call this week and again in two weeks), is level 1 of the policy, owns a duty and an open
    action item. The team's manager is ``manager``."""
    from oncall.models import RotationLayer

    team = TeamFactory(name="Payments", manager=manager)
    colleague = UserFactory(username="colleague")
    schedule = ScheduleFactory(team=team, name="Payments primary")
    today = timezone.now().date()
    LayerFactory(
        schedule=schedule,
        people=[responder, colleague],
        start_date=today - timedelta(days=today.weekday()),
        rotation_unit=RotationLayer.Unit.WEEKS,
    )
    policy = PolicyFactory(team=team, name="Payments escalation")
    level(policy, 1, users=[responder])
    ResponsibilityFactory(team=team, title="Weekly incident triage", owner=responder, backup=colleague)
    pm = postmortem(actor=manager)
    item(pm, manager, owner=responder, title="Alert on pool saturation", team=team)
    return {"team": team, "schedule": schedule, "colleague": colleague}


def test_scim_deactivation_of_an_on_call_responder(world, responder, manager, client, api_client):
    schedule = world["schedule"]
    now = timezone.now()
    assert not selectors.gaps(schedule, now, now + timedelta(days=14))  # covered before
    # a signed-in browser session and an API token
    client.force_login(responder)
    assert client.get("/admin/").status_code == 200
    _token, key = create_token(user=responder, actor=responder, name="laptop")
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api_client.get("/api/v1/services/").status_code == 200

    _t, scim_key = services.create_scim_token(name="Okta")
    patch = {"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": False}}]}
    response = client.generic(
        "PATCH",
        f"/scim/v2/Users/{responder.pk}",
        json.dumps(patch),
        content_type="application/scim+json",
        HTTP_AUTHORIZATION=f"Bearer {scim_key}",
    )
    assert response.status_code == 200, response.content
    assert response.json()["active"] is False

    # sessions and tokens dead at once
    assert not Session.objects.filter(session_key=client.session.session_key).exists()
    assert client.get("/admin/").status_code == 302
    assert api_client.get("/api/v1/services/").status_code == 401
    assert ApiToken.objects.get(user=responder).revoked_at is not None

    # the departure lists everything that names them
    departure = Departure.objects.get(user=responder)
    kinds = {(r["kind"], r["label"].split(":")[0]) for r in departure.references}
    assert ("schedule", "Payments primary") in kinds
    assert ("escalation level", "Payments escalation, level 1") in kinds
    assert ("duty owner", "Weekly incident triage") in kinds
    assert any(k == "action item" and label.startswith("Alert on pool saturation") for k, label in kinds)
    schedule_ref = next(r for r in departure.references if r["kind"] == "schedule")
    assert schedule_ref["gaps"]  # their weeks are gaps now
    assert departure.notified == [manager.username]

    # the manager is told, with the list
    note = Notification.objects.get(recipient=manager, template="identity/departure")
    assert "Payments primary" in note.body
    assert "Weekly incident triage" in note.body
    assert "Alert on pool saturation" in note.body
    assert "gap" in note.body

    # the gap shows on the schedule page (existing gap detection)
    holes = selectors.gaps(schedule, now, now + timedelta(days=14))
    assert holes
    assert holes[0][0] <= now + timedelta(minutes=1)  # from now: they were on call this week
    manager_client = client.__class__()
    manager_client.force_login(manager)
    page = manager_client.get(f"/admin/oncall/schedule/{schedule.pk}/change/")
    assert page.status_code == 200
    assert b"oc-gap-warning" in page.content
    assert b"this schedule has a gap right now" in page.content

    event = AuditEvent.objects.get(kind=AuditEvent.Kind.DEACTIVATED)
    assert event.changes["api_tokens_revoked"] == 1
    assert event.changes["sessions_ended"] >= 1
    assert event.source == "scim"


def test_deactivating_twice_is_one_departure(world, responder):
    first = services.deactivate_user(user=responder, source="scim")
    second = services.deactivate_user(user=responder, source="scim")
    assert first.pk == second.pk
    assert Notification.objects.filter(template="identity/departure").count() == 1


def test_reactivation_closes_the_departure_and_the_gap(world, responder):
    schedule = world["schedule"]
    now = timezone.now()
    services.deactivate_user(user=responder, source="scim")
    assert selectors.gaps(schedule, now, now + timedelta(days=14))
    services.reactivate_user(user=responder, source="scim")
    assert not selectors.gaps(schedule, now, now + timedelta(days=14))
    assert Departure.objects.get().reverted_at is not None


def test_deactivation_from_the_admin_runs_the_same_workflow(world, responder, superuser, client):
    client.force_login(superuser)
    url = f"/admin/accounts/user/{responder.pk}/change/"
    form = client.get(url).context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and not isinstance(v, list | tuple)}
    data.update(
        username=responder.username,
        is_active="",
        date_joined_0=responder.date_joined.strftime("%Y-%m-%d"),
        date_joined_1=responder.date_joined.strftime("%H:%M:%S"),
        groups=[g.pk for g in responder.groups.all()],
        time_zone="UTC",
    )
    data = {
        k: v
        for k, v in data.items()
        if k not in ("last_login", "password", "date_joined", "user_permissions")
    }
    response = client.post(url, data)
    assert response.status_code == 302, (
        response.context["adminform"].form.errors if response.context else response
    )
    departure = Departure.objects.get(user=responder)
    assert departure.source == "admin"
    assert departure.actor == superuser
    assert AuditEvent.objects.get(kind=AuditEvent.Kind.DEACTIVATED).actor == superuser


def test_departure_without_an_owning_team_tells_every_manager(responder, manager):
    from django.contrib.auth.models import Group

    from accounts import roles

    other_manager = UserFactory(username="m2")
    other_manager.groups.add(Group.objects.get(name=roles.MANAGERS))
    audiences = services._managers_for([{"kind": "action item", "label": "x"}])
    assert {u.username for u in audiences[None]} >= {manager.username, "m2"}
