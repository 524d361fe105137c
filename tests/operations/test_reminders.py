"""Reminders through the real sweep: due soon -> owner; overdue -> owner, backup, manager."""

from datetime import UTC, date, datetime, time, timedelta

import pytest
import time_machine

from notifications.models import Notification
from operations import services, tokens
from reminders import services as sweeper
from reminders.models import ReminderLog, RuleConfig
from tests.operations.factories import ResponsibilityFactory

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
FRI = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)  # the weekly duty's first due point
OVERDUE, DUE_SOON = "operations.duty_overdue", "operations.duty_due_soon"


@pytest.fixture
def duty(db):
    with time_machine.travel(NOW, tick=False):
        return ResponsibilityFactory(title="Incident triage")


def sweep_at(when):
    with time_machine.travel(when, tick=False):
        return sweeper.sweep(now=when)


def sent(rule=OVERDUE):
    return [
        (log.stage, log.recipient, log.due_point)
        for log in ReminderLog.objects.filter(rule=rule).order_by("pk")
    ]


@pytest.mark.django_db
def test_due_soon_reaches_the_owner_once(duty):
    sweep_at(FRI - timedelta(days=1, minutes=1))
    assert sent(DUE_SOON) == []
    sweep_at(FRI - timedelta(hours=23))
    sweep_at(FRI - timedelta(hours=1))
    assert sent(DUE_SOON) == [(1, duty.owner, FRI)]
    note = Notification.objects.get(recipient=duty.owner, template="operations/due_soon")
    assert "Incident triage" in note.subject
    assert "/operating-model/check-in/" in note.body


@pytest.mark.django_db
def test_overdue_escalates_owner_then_backup_then_manager_exactly_once(duty):
    manager = duty.team.manager
    sweep_at(FRI)  # due now, not overdue yet
    assert sent() == []
    sweep_at(FRI + timedelta(minutes=1))
    assert sent() == [(1, duty.owner, FRI)]
    sweep_at(FRI + timedelta(hours=23, minutes=59))
    assert sent() == [(1, duty.owner, FRI)]
    sweep_at(FRI + timedelta(days=1))  # escalate after (default 1 day): the backup
    sweep_at(FRI + timedelta(days=1, minutes=5))
    assert sent() == [(1, duty.owner, FRI), (2, duty.backup, FRI)]
    sweep_at(FRI + timedelta(days=2))  # twice that: the team's manager
    sweep_at(FRI + timedelta(days=2, hours=1))
    assert sent() == [(1, duty.owner, FRI), (2, duty.backup, FRI), (3, manager, FRI)]
    escalated = Notification.objects.get(recipient=manager, template="operations/overdue")
    assert escalated.subject.startswith("[Escalated] Overdue: Incident triage")
    assert "neither the owner" in escalated.body


@pytest.mark.django_db
def test_check_in_stops_the_chase(duty):
    sweep_at(FRI + timedelta(hours=1))
    with time_machine.travel(FRI + timedelta(hours=2), tick=False):
        services.check_in(responsibility=duty, actor=duty.owner)
    sweep_at(FRI + timedelta(days=3))
    assert sent() == [(1, duty.owner, FRI)]


@pytest.mark.django_db
def test_each_missed_due_point_starts_again_and_catch_up_sends_only_the_latest(duty):
    sweep_at(FRI + timedelta(hours=1))
    # beat was down for two weeks: one reminder per stage for the latest due point only
    sweep_at(FRI + timedelta(weeks=2, days=3))
    latest = FRI + timedelta(weeks=2)
    assert sent()[1:] == [(1, duty.owner, latest), (2, duty.backup, latest), (3, duty.team.manager, latest)]
    body = Notification.objects.filter(recipient=duty.owner, template="operations/overdue").latest("pk").body
    assert "3 cycles are now overdue in a row" in body


@pytest.mark.django_db
def test_escalation_interval_follows_the_rule_config_and_fits_a_daily_cycle(db):
    with time_machine.travel(NOW, tick=False):
        daily = ResponsibilityFactory(cadence="daily", first_due_on=date(2026, 11, 26), due_time=time(9, 0))
    first = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    sweep_at(first + timedelta(hours=7, minutes=59))
    assert [s[0] for s in sent()] == [1]
    sweep_at(first + timedelta(hours=8))  # a third of the day, not the rule's 1 day
    assert [s[0] for s in sent()] == [1, 2]
    RuleConfig.objects.update_or_create(key=OVERDUE, defaults={"escalate_after": timedelta(hours=1)})
    sweep_at(first + timedelta(days=1, hours=1))
    assert sent()[2:] == [
        (1, daily.owner, first + timedelta(days=1)),
        (2, daily.backup, first + timedelta(days=1)),
    ]


@pytest.mark.django_db
def test_unowned_duty_goes_to_the_manager_and_retired_duties_are_quiet(db, manager):
    with time_machine.travel(NOW, tick=False):
        orphan = ResponsibilityFactory(owner=None, backup=None)
        retired = ResponsibilityFactory()
    services.set_active(responsibility=retired, actor=manager, active=False)
    sweep_at(FRI + timedelta(days=3))
    assert sent() == [(1, orphan.team.manager, FRI)]


@pytest.mark.django_db
def test_the_reminder_link_is_bound_to_its_due_point(duty):
    sweep_at(FRI + timedelta(hours=1))
    note = Notification.objects.get(recipient=duty.owner, template="operations/overdue")
    token = note.body.split("/operating-model/check-in/")[1].split("/")[0]
    assert tokens.read_token(token) == (duty.pk, FRI)
