"""The service-backed admin base: the admins that used to save around their services now
answer what the API answers, and a refusal shows the form again with the posted values."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from accounts import roles
from oncall.models import EscalationPolicy, Override
from status.models import ScheduledMaintenance
from tests.factories import TeamFactory, UserFactory
from tests.htmlforms import form_data
from tests.oncall.factories import PolicyFactory, ScheduleFactory, level

pytestmark = pytest.mark.django_db


def _policy_form(client, team, **fields):
    page = client.get(reverse("admin:oncall_escalationpolicy_add"))
    data = form_data(page.content.decode(), "escalationpolicy_form")
    data.update({"team": [str(team.pk)], "name": ["Payments escalation"], "repeat": ["0"], "_save": ["Save"]})
    data.update({k: [v] for k, v in fields.items()})
    return data


def test_an_escalation_policy_with_no_level_is_refused_with_the_form_shown_again(client, manager):
    team = TeamFactory()
    client.force_login(manager)
    response = client.post(reverse("admin:oncall_escalationpolicy_add"), _policy_form(client, team))
    assert response.status_code == 200  # the form again, not a 500 and not a redirect
    assert "A policy needs at least one level." in response.content.decode()
    assert 'value="Payments escalation"' in response.content.decode()  # what was typed is kept
    assert not EscalationPolicy.objects.filter(name="Payments escalation").exists()


def test_a_second_team_default_takes_over_instead_of_a_constraint_error(client, manager):
    team = TeamFactory()
    schedule = ScheduleFactory(team=team)
    first = PolicyFactory(team=team, is_team_default=True)
    level(first, 1, schedules=[schedule])
    client.force_login(manager)
    data = _policy_form(client, team, is_team_default="on")
    data.update(
        {
            "levels-TOTAL_FORMS": ["1"],
            "levels-INITIAL_FORMS": ["0"],
            "levels-0-position": ["1"],
            "levels-0-delay_minutes": ["5"],
            "levels-0-schedules": [str(schedule.pk)],
        }
    )
    response = client.post(reverse("admin:oncall_escalationpolicy_add"), data)
    assert response.status_code == 302, response.content.decode()[-2000:]
    new = EscalationPolicy.objects.get(name="Payments escalation")
    first.refresh_from_db()
    assert new.is_team_default
    assert not first.is_team_default
    assert new.levels.count() == 1


def test_the_override_admin_applies_the_override_rules(client, responder):
    """A responder puts only themselves on call: the admin used to save anyone's override."""
    team = TeamFactory()
    team.members.add(responder)
    schedule = ScheduleFactory(team=team)
    colleague = UserFactory(username="colleague", is_staff=True, roles=[roles.RESPONDERS])
    client.force_login(responder)
    start = timezone.localtime(timezone.now() + dt.timedelta(days=1))
    data = {
        "schedule": schedule.pk,
        "user": colleague.pk,
        "start_0": start.strftime("%Y-%m-%d"),
        "start_1": start.strftime("%H:%M:%S"),
        "end_0": (start + dt.timedelta(hours=12)).strftime("%Y-%m-%d"),
        "end_1": (start + dt.timedelta(hours=12)).strftime("%H:%M:%S"),
        "reason": "cover",
        "_save": "Save",
    }
    response = client.post(reverse("admin:oncall_override_add"), data)
    assert response.status_code == 200
    assert "You may only put yourself on call" in response.content.decode()
    assert not Override.objects.exists()
    data["user"] = responder.pk
    assert client.post(reverse("admin:oncall_override_add"), data).status_code == 302
    assert Override.objects.get().user == responder


def test_cancelling_maintenance_checks_who_may_whatever_the_door(client, manager):
    """The "cancelled" checkbox used to save without the permission check, and the cancel
    action answered 500 when the service refused."""
    from status.services import schedule_maintenance
    from tests.status.factories import component

    api = component(name="API")
    start = timezone.now() + dt.timedelta(days=2)
    maintenance = schedule_maintenance(
        actor=manager,
        title="Database upgrade",
        starts_at=start,
        ends_at=start + dt.timedelta(hours=1),
        components=[api],
    )
    # Staff who were given the model permissions by hand but hold no role that may cancel.
    clerk = UserFactory(username="clerk", is_staff=True)
    clerk.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="status",
            codename__in=["view_scheduledmaintenance", "change_scheduledmaintenance"],
        )
    )
    client.force_login(clerk)
    url = reverse("admin:status_scheduledmaintenance_change", args=[maintenance.pk])
    data = form_data(client.get(url).content.decode(), "scheduledmaintenance_form")
    data.update({"cancelled": ["on"], "_save": ["Save"]})
    response = client.post(url, data)
    assert response.status_code == 200
    assert "Only responders and engineering managers" in response.content.decode()
    maintenance.refresh_from_db()
    assert not maintenance.cancelled
    action = client.post(
        reverse("admin:status_scheduledmaintenance_changelist"),
        {"action": "cancel", "_selected_action": [maintenance.pk]},
        follow=True,
    )
    assert action.status_code == 200
    assert "Only responders and engineering managers cancel maintenance." in action.content.decode()
    maintenance.refresh_from_db()
    assert not maintenance.cancelled
    # A manager cancels with the same checkbox.
    client.force_login(manager)
    assert client.post(url, data).status_code == 302
    assert ScheduledMaintenance.objects.get(pk=maintenance.pk).cancelled


def test_editing_an_override_applies_the_same_rules_as_adding_one(client, manager):
    """The override admin checked new overrides only: an edit saved whatever it was given."""
    schedule = ScheduleFactory(team=TeamFactory())
    start = timezone.now() + dt.timedelta(days=1)
    override = Override.objects.create(
        schedule=schedule, user=manager, start=start, end=start + dt.timedelta(hours=12), created_by=manager
    )
    client.force_login(manager)
    url = reverse("admin:oncall_override_change", args=[override.pk])
    data = form_data(client.get(url).content.decode(), "override_form")
    too_long = timezone.localtime(start + dt.timedelta(days=120))
    data.update(
        {
            "end_0": [too_long.strftime("%Y-%m-%d")],
            "end_1": [too_long.strftime("%H:%M:%S")],
            "_save": ["Save"],
        }
    )
    response = client.post(url, data)
    assert response.status_code == 200
    assert "An override lasts at most 90 days" in response.content.decode()
    override.refresh_from_db()
    assert override.end == start + dt.timedelta(hours=12)
