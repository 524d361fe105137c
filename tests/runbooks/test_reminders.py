from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from notifications.models import Notification
from reminders.models import ReminderLog
from reminders.registry import EffectiveConfig
from reminders.services import sweep
from runbooks import reminders, services
from tests.factories import TeamFactory, UserFactory
from tests.runbooks.factories import RunbookFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)  # a Wednesday
WEEKLY = EffectiveConfig(enabled=True, interval=timedelta(days=7), escalate_after=None)


@pytest.fixture
def team():
    return TeamFactory(manager=UserFactory(username="lead", is_staff=True), email="team@example.com")


def _runbook(team, reviewer, reviewed_days_ago, **kwargs):
    rb = RunbookFactory(owner_team=team, **kwargs)
    with time_machine.travel(NOW, tick=False):
        return services.mark_reviewed(runbook=rb, actor=reviewer, at=NOW - timedelta(days=reviewed_days_ago))


def test_one_weekly_digest_per_team_lists_due_and_stale_runbooks(team, responder):
    _runbook(team, responder, 10, title="Fresh one")
    _runbook(team, responder, 95, title="Renew TLS")
    _runbook(team, responder, 200, title="DNS failover")
    other = TeamFactory(manager=UserFactory(username="other-lead"))
    _runbook(other, responder, 100, title="Database failover")
    out = list(reminders.RunbookReviewDigestRule(key="t").due(now=NOW, config=WEEKLY))
    assert len(out) == 2
    mine = next(r for r in out if r.related == team)
    assert mine.kind == "digest"
    assert mine.due_point == datetime(2026, 6, 8, 9, 0, tzinfo=UTC)  # the latest Monday 09:00
    assert [str(x) for x in mine.recipients] == [str(team.manager), "team@example.com"]
    listed = dict((v.split(" - ")[0], k) for k, v in mine.context["fields"])
    assert listed == {"Renew TLS": "Review due", "DNS failover": "Stale"}
    assert mine.context["title"] == f"{team.name}: 2 runbook(s) need review (1 stale)"


def test_sweep_sends_the_digest_once_a_week_and_a_review_stops_it(team, responder):
    rb = _runbook(team, responder, 95, title="Renew TLS")
    sweep(now=NOW)
    sent = Notification.objects.count()
    assert sent >= 2  # manager and team mailing list
    sweep(now=NOW + timedelta(hours=1))
    assert Notification.objects.count() == sent
    sweep(now=NOW + timedelta(days=5))  # next Monday: the second weekly digest
    assert ReminderLog.objects.filter(rule="runbooks.review_due").count() == 4
    with time_machine.travel(NOW + timedelta(days=6), tick=False):
        services.mark_reviewed(runbook=rb, actor=responder)
    sweep(now=NOW + timedelta(days=13))
    assert ReminderLog.objects.filter(rule="runbooks.review_due").count() == 4
