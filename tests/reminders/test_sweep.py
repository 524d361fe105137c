"""The reminder mechanism with a rule defined here: a team without a manager is chased
hourly after it was created; two hours in, the second stage goes to a superuser."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection

from catalog.models import Team
from reminders import registry, services
from reminders.models import QuietHours, ReminderLog, RuleConfig
from tests.factories import TeamFactory, UserFactory

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # a Monday


class TeamWithoutManager(registry.Rule):
    def due(self, *, now, config):
        for team in Team.objects.filter(manager__isnull=True, created_at__lte=now - timedelta(hours=1)):
            first = team.created_at + timedelta(hours=1)
            point = registry.latest_due_point(first, config.interval, now)
            yield registry.Reminder(
                object_key=f"catalog.team:{team.pk}",
                due_point=point,
                recipients=[self.extra["owner"]],
                template="reminders/generic",
                context={"title": f"{team.name} has no manager", "url": "https://ops.example.com/x"},
            )
            if config.escalate_after and now >= first + config.escalate_after:
                yield registry.Reminder(
                    object_key=f"catalog.team:{team.pk}",
                    due_point=first + config.escalate_after,
                    recipients=[self.extra["boss"]],
                    template="reminders/generic",
                    context={
                        "title": f"{team.name} still has no manager",
                        "url": "https://ops.example.com/x",
                    },
                    stage=2,
                )


@pytest.fixture
def rule(db):
    owner = UserFactory(username="owner", time_zone="Europe/Berlin")
    boss = UserFactory(username="boss")
    rule = TeamWithoutManager(
        key="tests.team_without_manager",
        title="Team without manager",
        default_interval=timedelta(hours=1),
        default_escalate_after=timedelta(hours=2),
        extra={"owner": owner, "boss": boss},
    )
    registry.register(rule)
    yield rule
    registry.unregister(rule)


def _sent(stage=None):
    qs = ReminderLog.objects.filter(rule="tests.team_without_manager")
    return list(qs.filter(stage=stage) if stage else qs)


@pytest.mark.django_db
def test_reminder_appears_exactly_at_its_due_point_once(rule):
    with time_machine.travel(T0, tick=False):
        TeamFactory(manager=None)
    with time_machine.travel(T0 + timedelta(minutes=59), tick=False):
        assert services.sweep().sent == 0
    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        assert services.sweep().sent == 1
        assert services.sweep().sent == 0  # the same due point, swept again
    with time_machine.travel(T0 + timedelta(hours=1, minutes=30), tick=False):
        assert services.sweep().sent == 0
    (entry,) = _sent()
    assert entry.recipient == rule.extra["owner"]
    assert entry.due_point == T0 + timedelta(hours=1)


@pytest.mark.django_db
def test_second_stage_only_when_the_first_was_ignored(rule):
    with time_machine.travel(T0, tick=False):
        ignored = TeamFactory(manager=None)
        handled = TeamFactory(manager=None)
    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        services.sweep()
    handled.manager = UserFactory()
    handled.save()
    with time_machine.travel(T0 + timedelta(hours=3), tick=False):
        services.sweep()
    second = _sent(stage=2)
    assert [s.object_key for s in second] == [f"catalog.team:{ignored.pk}"]
    assert second[0].recipient == rule.extra["boss"]


@pytest.mark.django_db
def test_catch_up_after_a_missed_hour_sends_the_latest_due_point_only(rule):
    RuleConfig.objects.create(key=rule.key, interval=timedelta(minutes=1), escalate_after=timedelta(days=30))
    with time_machine.travel(T0, tick=False):
        TeamFactory(manager=None)
    with time_machine.travel(T0 + timedelta(hours=2), tick=False):  # beat was down for an hour
        report = services.sweep()
    assert report.sent == 1
    assert _sent()[0].due_point == T0 + timedelta(hours=2)


@pytest.mark.django_db
def test_disabled_rule_sends_nothing_and_cadence_is_editable(rule):
    RuleConfig.objects.create(key=rule.key, enabled=False)
    with time_machine.travel(T0, tick=False):
        TeamFactory(manager=None)
    with time_machine.travel(T0 + timedelta(hours=5), tick=False):
        assert services.sweep().sent == 0


@pytest.mark.django_db
def test_quiet_hours_defer_until_they_end(rule):
    owner = rule.extra["owner"]  # Europe/Berlin: 20:00-08:00 local
    QuietHours.objects.create(user=owner, start="20:00", end="08:00")
    night = datetime(2026, 11, 23, 21, 0, tzinfo=UTC)  # 22:00 in Berlin
    with time_machine.travel(night - timedelta(hours=1), tick=False):
        TeamFactory(manager=None)
    with time_machine.travel(night, tick=False):
        report = services.sweep()
        assert (report.sent, report.deferred) == (0, 1)
    with time_machine.travel(datetime(2026, 11, 24, 7, 30, tzinfo=UTC), tick=False):  # 08:30 in Berlin
        services.sweep()
    (entry,) = ReminderLog.objects.filter(recipient=owner)
    assert entry.sent_at == datetime(2026, 11, 24, 7, 30, tzinfo=UTC)


@pytest.mark.django_db
def test_preview_lists_what_would_be_sent_without_sending(rule):
    with time_machine.travel(T0, tick=False):
        TeamFactory(name="Nomads", manager=None)
    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        items = services.preview()
        assert [i.reminder.context["title"] for i in items] == ["Nomads has no manager"]
        assert ReminderLog.objects.count() == 0
        services.sweep()
        assert services.preview() == []


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_send_each_reminder_once(rule):
    with time_machine.travel(T0, tick=False):
        for _ in range(5):
            TeamFactory(manager=None)
    results, errors = [], []
    barrier = threading.Barrier(2)

    def run():
        try:
            barrier.wait()
            results.append(services.sweep(now=T0 + timedelta(hours=3)).sent)
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert sum(results) == 10  # 5 teams x (stage 1 + stage 2), whichever sweep sent them
    assert ReminderLog.objects.filter(rule=rule.key).count() == 10
    from notifications.models import Notification

    assert (
        Notification.objects.filter(event_key__startswith="reminder:tests.team_without_manager").count() >= 10
    )
