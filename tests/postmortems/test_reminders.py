from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine

from accounts import roles
from incidents import services as incident_services
from notifications.models import Notification
from postmortems import reminders, selectors, services
from postmortems.models import Postmortem
from reminders.models import ReminderLog
from reminders.registry import EffectiveConfig
from reminders.services import sweep
from tests.factories import UserFactory
from tests.postmortems import factories as f

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)  # a Wednesday
DAILY = EffectiveConfig(enabled=True, interval=timedelta(days=1), escalate_after=timedelta(days=1))
PLAIN = EffectiveConfig(enabled=True, interval=None, escalate_after=None)


@pytest.fixture
def at_now():
    with time_machine.travel(NOW, tick=False):
        yield NOW


def _pm_due(actor, service, due_at):
    pm = f.postmortem(actor=actor, incident=f.resolved_incident(actor=actor, service=service))
    Postmortem.objects.filter(pk=pm.pk).update(due_at=due_at)
    return Postmortem.objects.get(pk=pm.pk)


def test_postmortem_due_within_a_business_day_goes_to_owner(at_now, responder, manager, service):
    soon = _pm_due(responder, service, NOW + timedelta(hours=20))
    _pm_due(responder, service, NOW + timedelta(days=5))
    published = _pm_due(responder, service, NOW + timedelta(hours=3))
    f.published(published, responder, manager)
    out = list(reminders.PostmortemDueSoonRule(key="t").due(now=NOW, config=PLAIN))
    assert [(r.object_key, r.recipients, r.due_point) for r in out] == [
        (f"postmortems.postmortem:{soon.pk}", [responder], soon.due_at)
    ]
    assert out[0].context["title"] == f"Postmortem of {soon.incident.reference} is due soon"


def test_due_soon_spans_the_weekend(responder, service):
    friday = datetime(2026, 6, 12, 15, 0, tzinfo=UTC)
    with time_machine.travel(friday, tick=False):
        monday = _pm_due(responder, service, datetime(2026, 6, 15, 10, 0, tzinfo=UTC))
    assert list(selectors.postmortems_due_soon(friday, services.business_zone())) == [monday]


def test_overdue_postmortem_owner_then_manager(at_now, responder, manager, service):
    fresh = _pm_due(responder, service, NOW - timedelta(hours=3))
    old = _pm_due(responder, service, NOW - timedelta(hours=30))
    out = list(reminders.PostmortemOverdueRule(key="t").due(now=NOW, config=DAILY))
    got = {(r.object_key, r.stage, tuple(u.username for u in r.recipients), r.due_point) for r in out}
    assert got == {
        (f"postmortems.postmortem:{fresh.pk}", 1, ("responder",), fresh.due_at),
        (f"postmortems.postmortem:{old.pk}", 1, ("responder",), old.due_at + timedelta(days=1)),
        (f"postmortems.postmortem:{old.pk}", 2, ("manager",), old.due_at + timedelta(days=1)),
    }


def _items_setup(responder, manager, service):
    """Overdue, due tomorrow, due later and finished items; the incident is CLOSED."""
    today = services.local_today(NOW)
    pm = f.postmortem(actor=responder, incident=f.resolved_incident(actor=responder, service=service))
    late = f.item(pm, responder, owner=responder, title="late", due_date=today - timedelta(days=3))
    soon = f.item(pm, responder, owner=responder, title="soon", due_date=today + timedelta(days=1))
    f.item(pm, responder, owner=responder, title="later", due_date=today + timedelta(days=9))
    done = f.item(pm, responder, owner=responder, title="done", due_date=today - timedelta(days=5))
    services.set_action_item_status(item=done, actor=responder, status="done")
    mgr_item = f.item(pm, responder, owner=manager, title="manager's", due_date=today - timedelta(days=1))
    pm = f.published(pm, responder, manager)
    incident_services.close(incident=pm.incident, actor=responder)
    return late, soon, mgr_item


def test_daily_digest_per_owner_even_after_incident_closed(at_now, responder, manager, service):
    _items_setup(responder, manager, service)
    out = {
        r.recipients[0].username: r
        for r in reminders.ActionItemDigestRule(key="t").due(now=NOW, config=PLAIN)
    }
    assert set(out) == {"responder", "manager"}
    mine = out["responder"]
    assert [i["title"] for i in mine.context["items"]] == ["late", "soon"]
    assert mine.context["title"] == "Remediation: 1 overdue, 1 due soon"
    assert mine.kind == "digest"
    assert mine.object_key == f"postmortems.digest:user:{responder.pk}"
    assert mine.due_point == datetime(2026, 6, 10, 9, 0, tzinfo=UTC)  # 09:00 in the owner's zone (UTC)


def test_digest_waits_for_nine_in_the_owners_zone(at_now, responder, manager, service):
    _items_setup(responder, manager, service)
    responder.time_zone = "America/Los_Angeles"  # 05:00 there
    responder.save(update_fields=["time_zone"])
    out = list(reminders.ActionItemDigestRule(key="t").due(now=NOW, config=PLAIN))
    assert [r.recipients[0].username for r in out] == ["manager"]


def test_weekly_team_digest_to_manager(at_now, responder, manager, service):
    _items_setup(responder, manager, service)
    out = list(reminders.TeamOverdueDigestRule(key="t").due(now=NOW, config=PLAIN))
    assert len(out) == 1
    digest = out[0]
    assert digest.recipients == [manager]
    assert digest.due_point == datetime(2026, 6, 8, 9, 0, tzinfo=UTC)  # Monday of this week
    assert {i["title"] for i in digest.context["items"]} == {"late", "manager's"}
    assert {i["days"] for i in digest.context["items"]} == {3, 1}


def test_sweep_sends_each_reminder_once(at_now, responder, manager, service):
    _items_setup(responder, manager, service)
    _pm_due(responder, service, NOW - timedelta(hours=30))
    UserFactory(username="bystander", roles=[roles.RESPONDERS])
    sweep(now=NOW)
    rules = ["postmortems.overdue", "postmortems.action_items_digest", "postmortems.team_overdue_digest"]
    logs = list(
        ReminderLog.objects.filter(rule__in=rules).values_list("rule", "stage", "recipient__username")
    )
    assert sorted(logs) == sorted(
        [
            ("postmortems.overdue", 1, "responder"),
            ("postmortems.overdue", 2, "manager"),
            ("postmortems.action_items_digest", 1, "responder"),
            ("postmortems.action_items_digest", 1, "manager"),
            ("postmortems.team_overdue_digest", 1, "manager"),
        ]
    )
    sent = Notification.objects.filter(template__startswith="postmortems/").count()
    sweep(now=NOW + timedelta(minutes=5))
    assert ReminderLog.objects.filter(rule__in=rules).count() == len(logs)
    assert Notification.objects.filter(template__startswith="postmortems/").count() == sent
    digest = Notification.objects.filter(template="postmortems/items_digest", recipient=responder).first()
    assert digest is not None
    assert "late" in digest.body
    assert "soon" in digest.body


def test_rules_are_registered():
    from reminders.registry import rules

    keys = {r.key for r in rules()}
    assert {
        "postmortems.due_soon", "postmortems.overdue", "postmortems.action_items_digest",
        "postmortems.team_overdue_digest",
    } <= keys  # fmt: skip


def test_reminder_selectors_use_partial_indexes(responder, service):
    # The hooks filter on the indexed columns of unfinished rows only.
    sql = str(selectors.action_items_overdue(date(2026, 6, 10)).query)
    assert '"due_date" <' in sql
    assert "open" in sql
    assert "in_progress" in sql
    sql = str(selectors.postmortems_overdue(NOW).query)
    assert '"due_at" <' in sql
    assert "published" in sql
