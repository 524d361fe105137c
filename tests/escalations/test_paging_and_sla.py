"""Acknowledging the page acknowledges the escalation; past its SLA an unacknowledged
escalation escalates once (page moves on / on-call paged) and the team manager hears."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from escalations import services
from escalations.models import Escalation, SupportSettings
from notifications.models import Notification
from oncall import services as oncall_services
from oncall.models import Page, PageEvent
from reminders import services as reminder_services
from reminders.models import ReminderLog
from tests.escalations.factories import file, paged_service

pytestmark = pytest.mark.django_db


@pytest.fixture
def service(db):
    return paged_service(name="Checkout")


def test_acknowledging_the_page_acknowledges_the_escalation(
    support_user, responder, service, django_capture_on_commit_callbacks
):
    escalation = file(support_user, service=service)
    with django_capture_on_commit_callbacks(execute=True):
        oncall_services.acknowledge_page(page=escalation.page, user=responder, via="web")
    escalation.refresh_from_db()
    assert escalation.status == Escalation.Status.ACKNOWLEDGED
    assert escalation.acknowledged_by == responder
    assert escalation.acknowledged_at is not None


def test_page_acknowledged_after_linking_keeps_linked_but_records_who(
    support_user, responder, manager, service, django_capture_on_commit_callbacks
):
    from incidents.models import Incident

    escalation = file(support_user, service=service)
    page = escalation.page
    # linked by surge-like path without acknowledgement: simulate support attaching later
    Escalation.objects.filter(pk=escalation.pk).update(
        status="linked", incident=_incident(responder, service)
    )
    with django_capture_on_commit_callbacks(execute=True):
        oncall_services.acknowledge_page(page=page, user=manager, via="web")
    escalation.refresh_from_db()
    assert escalation.status == "linked"
    assert escalation.acknowledged_by == manager
    assert Incident.objects.count() == 1


def _incident(actor, service):
    from tests.incidents.factories import declare

    return declare(actor=actor, level=3, service=service)


def test_pages_of_other_subjects_are_ignored(responder, django_capture_on_commit_callbacks):
    from oncall.models import EscalationPolicy

    service = paged_service(name="Other")
    policy = EscalationPolicy.objects.get(team=service.owner_team)
    page = oncall_services.open_page(title="probe", summary="", url="", policy=policy, dedup_key="probe:1")
    with django_capture_on_commit_callbacks(execute=True):
        oncall_services.acknowledge_page(page=page, user=responder, via="web")
    assert Escalation.objects.count() == 0


def test_blocked_past_sla_moves_the_page_on_once_and_tells_the_manager(support_user, service):
    escalation = file(support_user, service=service)
    page = escalation.page
    manager = service.owner_team.manager
    assert reminder_services.sweep(now=timezone.now()).sent == 0  # within SLA: nothing
    later = escalation.ack_due_at + timedelta(minutes=1)
    with time_machine.travel(later, tick=False):
        first = reminder_services.sweep(now=later)
        second = reminder_services.sweep(now=later + timedelta(minutes=5))
    assert first.sent == 2  # the action (escalate) + the manager's message
    assert second.sent == 0
    assert second.already_sent == 2
    page.refresh_from_db()
    assert page.step == 1  # level 2 notified now, not after level 1's delay
    assert PageEvent.objects.filter(page=page, kind=PageEvent.Kind.ESCALATED).count() == 1
    assert Notification.objects.filter(recipient=manager, template="escalations/sla_breached").count() >= 1
    assert (
        ReminderLog.objects.filter(rule="escalations.unacknowledged", recipient_key="*action*").count() == 1
    )


def test_question_past_sla_pages_on_call(support_user, service):
    SupportSettings.objects.filter(pk=1).update(question_ack_minutes=30)
    escalation = file(support_user, service=service, impact="question")
    assert escalation.page is None
    later = escalation.ack_due_at + timedelta(seconds=5)
    with time_machine.travel(later, tick=False):
        reminder_services.sweep(now=later)
    escalation.refresh_from_db()
    assert escalation.page is not None
    assert escalation.page.status == Page.Status.TRIGGERED
    assert escalation.page.dedup_key == f"escalations:{escalation.pk}"


def test_acknowledged_escalation_never_escalates(support_user, responder, service):
    escalation = file(support_user, service=service)
    services.acknowledge(escalation=escalation, actor=responder)
    later = escalation.ack_due_at + timedelta(minutes=1)
    with time_machine.travel(later, tick=False):
        report = reminder_services.sweep(now=later)
    assert report.sent == 0


def test_escalate_overdue_is_idempotent_and_safe_without_policy(support_user):
    escalation = file(support_user, service=None)  # no triage policy configured
    assert escalation.page is None
    assert escalation.policy is None
    assert services.escalate_overdue(escalation_id=escalation.pk) == "no policy to page"
    assert services.escalate_overdue(escalation_id=escalation.pk) == "no policy to page"


def test_next_business_day_sla_for_questions_skips_the_weekend(support_user, service):
    from datetime import UTC, datetime

    friday_evening = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)
    with time_machine.travel(friday_evening, tick=False):
        escalation = file(support_user, service=service, impact="question")
    assert escalation.ack_due_at == datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # Monday 09:00 (TIME_ZONE=UTC)


def test_degraded_sla_is_one_hour(support_user, service):
    escalation = file(support_user, service=service, impact="degraded")
    assert escalation.ack_due_at - escalation.created_at == timedelta(hours=1)


# --- the escalation and its page settle each other ------------------------------------------


def test_acknowledging_the_escalation_acknowledges_its_page_once(
    support_user, responder, manager, service, api_as, django_capture_on_commit_callbacks
):
    escalation = file(support_user, service=service)
    with django_capture_on_commit_callbacks(execute=True):
        services.acknowledge(escalation=escalation, actor=responder)
    page = escalation.page
    page.refresh_from_db()
    assert (page.status, page.acknowledged_by, page.acknowledged_via) == (
        "acknowledged",
        responder,
        "escalation",
    )
    # someone else's acknowledgement of the page a moment later finds it settled: no 409
    r = api_as(manager).post(f"/api/v1/pages/{page.pk}/acknowledge/")
    assert r.status_code == 200, r.data
    assert PageEvent.objects.filter(page=page, kind=PageEvent.Kind.ACKNOWLEDGED).count() == 1


@pytest.mark.parametrize("status", ["new", "acknowledged"])
def test_resolving_the_page_resolves_the_escalation_and_tells_support(
    status, support_user, responder, service, api_as, django_capture_on_commit_callbacks
):
    escalation = file(support_user, service=service)
    if status == "acknowledged":
        services.acknowledge(escalation=escalation, actor=responder)
    with django_capture_on_commit_callbacks(execute=True):
        r = api_as(responder).post(
            f"/api/v1/pages/{escalation.page_id}/resolve/", {"reason": "cache flushed, checkout works"}
        )
    assert r.status_code == 200, r.data
    escalation.refresh_from_db()
    assert escalation.status == Escalation.Status.RESOLVED
    assert escalation.resolved_by == responder
    assert "on-call page" in escalation.reply
    assert "cache flushed, checkout works" in escalation.reply
    assert Notification.objects.filter(
        recipient=support_user, template="escalations/resolved", related_id=str(escalation.pk)
    ).exists()


def test_resolving_the_escalation_resolves_its_page_without_an_echo(
    support_user, responder, service, django_capture_on_commit_callbacks
):
    escalation = file(support_user, service=service)
    with django_capture_on_commit_callbacks(execute=True):
        services.resolve(escalation=escalation, actor=responder, reply="Fixed in 1.2.")
    escalation.refresh_from_db()
    assert escalation.reply == "Fixed in 1.2."  # not overwritten by the page's resolution
    assert escalation.page.status == Page.Status.RESOLVED
    assert Notification.objects.filter(template="escalations/resolved").count() == 1


def test_a_linked_report_is_not_resolved_by_its_stood_down_page(
    support_user, responder, service, django_capture_on_commit_callbacks
):
    escalation = file(support_user, service=service)
    with django_capture_on_commit_callbacks(execute=True):
        services.link_to_incident(
            escalation=escalation, incident=_incident(responder, service), actor=responder
        )
    escalation.refresh_from_db()
    assert escalation.status == Escalation.Status.LINKED
    assert escalation.page.status == Page.Status.RESOLVED
