from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine

from reminders import services as sweeper
from reminders.models import ReminderLog
from tests.factories import TeamFactory, UserFactory
from tests.oncall.factories import LayerFactory, ScheduleFactory

pytestmark = pytest.mark.django_db
MONDAY = datetime(2026, 3, 9, 10, 0, tzinfo=UTC)


def _schedule(*, layer_ends_at):
    boss = UserFactory(username="boss")
    schedule = ScheduleFactory(team=TeamFactory(manager=boss), time_zone="UTC")
    LayerFactory(
        schedule=schedule,
        people=[UserFactory(), UserFactory()],
        start_date=date(2026, 1, 5),
        end_at=layer_ends_at,
    )
    return schedule, boss


def test_gap_in_the_next_week_reminds_the_manager_once_a_day_until_fixed():
    schedule, boss = _schedule(layer_ends_at=MONDAY + timedelta(days=3))  # nobody from Thursday
    with time_machine.travel(MONDAY, tick=False):
        sweeper.sweep()
        sweeper.sweep()
    with time_machine.travel(MONDAY + timedelta(hours=5), tick=False):
        sweeper.sweep()

    def logs():
        return ReminderLog.objects.filter(rule="oncall.coverage_gap")

    assert [(e.recipient_id, e.object_key) for e in logs()] == [(boss.pk, f"oncall.schedule:{schedule.pk}")]
    with time_machine.travel(MONDAY + timedelta(days=1), tick=False):
        sweeper.sweep()
    assert logs().count() == 2
    layer = schedule.layers.get()
    layer.end_at = None  # fixed: the rotation continues
    layer.save()
    with time_machine.travel(MONDAY + timedelta(days=2), tick=False):
        sweeper.sweep()
    assert logs().count() == 2


def test_gap_beyond_seven_days_is_not_chased_yet():
    _schedule(layer_ends_at=MONDAY + timedelta(days=9))
    with time_machine.travel(MONDAY, tick=False):
        sweeper.sweep()
    assert not ReminderLog.objects.filter(rule="oncall.coverage_gap").exists()
