"""Incident SLA reminders walked through time: each at its due point, once, to the right
person; the second stage only when the first was ignored."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from incidents import services
from oncall.models import Page
from reminders import services as sweeper
from reminders.models import ReminderLog
from tests.factories import ServiceFactory, TeamFactory, UserFactory
from tests.incidents.factories import declare
from tests.oncall.factories import PolicyFactory, level

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)  # a Tuesday


@pytest.fixture
def team_service(responder):
    boss = UserFactory(username="boss")
    team = TeamFactory(manager=boss)
    policy = PolicyFactory(team=team, is_team_default=True)
    level(policy, 1, users=[responder])
    return ServiceFactory(owner_team=team)


def _log(rule):
    return list(ReminderLog.objects.filter(rule=rule).order_by("sent_at", "stage"))


def test_sev3_not_acknowledged_escalates_to_paging_and_manager_once(manager, team_service):
    with time_machine.travel(T0, tick=False):
        incident = declare(actor=manager, level=3, service=team_service, detected_at=T0)
    assert not Page.objects.exists()  # SEV-3 does not page on declaration
    with time_machine.travel(T0 + timedelta(hours=4) - timedelta(seconds=1), tick=False):
        sweeper.sweep()
    assert _log("incidents.ack_overdue") == []
    with time_machine.travel(T0 + timedelta(hours=4), tick=False):
        sweeper.sweep()
        sweeper.sweep()
    entries = _log("incidents.ack_overdue")
    assert sorted(e.recipient_key for e in entries) == sorted(
        ["*action*", f"user:{team_service.owner_team.manager_id}"]
    )
    assert Page.objects.filter(subject_id=str(incident.pk)).count() == 1


def test_acknowledged_in_time_sends_nothing(manager, responder, team_service):
    with time_machine.travel(T0, tick=False):
        incident = declare(actor=manager, level=3, service=team_service, detected_at=T0)
        services.acknowledge(incident=incident, actor=responder)
    with time_machine.travel(T0 + timedelta(hours=5), tick=False):
        sweeper.sweep()
    assert _log("incidents.ack_overdue") == []


def test_update_overdue_commander_then_manager_only_if_ignored(manager, responder, team_service):
    with time_machine.travel(T0, tick=False):
        ignored = declare(actor=manager, level=1, service=team_service, detected_at=T0, title="ignored")
        handled = declare(actor=manager, level=1, service=team_service, detected_at=T0, title="handled")
        for inc in (ignored, handled):
            services.acknowledge(incident=inc, actor=responder)
    due = T0 + timedelta(minutes=30)  # SEV-1: an update every 30 minutes
    with time_machine.travel(due - timedelta(seconds=1), tick=False):
        sweeper.sweep()
    assert _log("incidents.update_overdue") == []
    with time_machine.travel(due, tick=False):
        sweeper.sweep()
    first = _log("incidents.update_overdue")
    assert {(e.object_key, e.stage, e.recipient_id) for e in first} == {
        (f"incidents.incident:{ignored.pk}", 1, responder.pk),
        (f"incidents.incident:{handled.pk}", 1, responder.pk),
    }
    with time_machine.travel(due + timedelta(minutes=10), tick=False):
        services.post_update(incident=handled, actor=responder, audience="internal", text="Rolling back")
    with time_machine.travel(due + timedelta(minutes=30), tick=False):
        sweeper.sweep()
    second = [e for e in _log("incidents.update_overdue") if e.stage == 2]
    assert [(e.object_key, e.recipient_id) for e in second] == [
        (f"incidents.incident:{ignored.pk}", team_service.owner_team.manager_id)
    ]


def test_catch_up_after_beat_was_down_sends_one_reminder_per_stage(manager, responder, team_service):
    with time_machine.travel(T0, tick=False):
        incident = declare(actor=manager, level=1, service=team_service, detected_at=T0)
        services.acknowledge(incident=incident, actor=responder)
    with time_machine.travel(T0 + timedelta(hours=3), tick=False):  # no sweep for 3 hours
        sweeper.sweep()
    entries = _log("incidents.update_overdue")
    assert sorted(e.stage for e in entries) == [1, 2]
