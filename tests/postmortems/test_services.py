from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import IntegrityError, transaction
from django.utils import timezone

from incidents import services as incident_services
from incidents.models import Incident, TimelineEvent
from opsportal.errors import Conflict, InvalidInput, NotAllowed
from postmortems import prefill, selectors, services
from postmortems.models import REVIEW_CHECKLIST_KEYS, ActionItem, Holiday, Postmortem
from tests.postmortems import factories as f

pytestmark = pytest.mark.django_db
BERLIN = ZoneInfo("Europe/Berlin")


# --- due dates: business days, weekends, DST, holidays ----------------------------------------
def _resolved_at(local: datetime, responder, service, level=1):
    at = local.astimezone(UTC)
    return f.resolved_incident(
        actor=responder, service=service, level=level, detected_at=at - timedelta(hours=2), resolved_at=at
    )


@pytest.fixture
def berlin(settings):
    settings.POSTMORTEM_TIME_ZONE = "Europe/Berlin"


def test_due_skips_weekend_and_keeps_wall_time_across_dst(berlin, responder, service):
    # Friday 27 March 2026 15:00 CET; clocks go forward on Sunday 29 March. SEV-1: 5 business days.
    incident = _resolved_at(datetime(2026, 3, 27, 15, 0, tzinfo=BERLIN), responder, service, level=1)
    due = services.due_at_for(incident)
    assert due.astimezone(BERLIN) == datetime(2026, 4, 3, 15, 0, tzinfo=BERLIN)  # Friday, 15:00 CEST
    assert due == datetime(2026, 4, 3, 13, 0, tzinfo=UTC)  # one hour less in UTC after the change
    assert due - incident.resolved_at == timedelta(days=7, hours=-1)


def test_due_from_a_saturday_counts_from_monday(berlin, responder, service):
    incident = _resolved_at(
        datetime(2026, 6, 13, 11, 0, tzinfo=BERLIN), responder, service, level=1
    )  # Saturday
    # Monday 15 June is day zero; five business days later is Monday 22 June, same wall time.
    assert services.due_at_for(incident).astimezone(BERLIN) == datetime(2026, 6, 22, 11, 0, tzinfo=BERLIN)


def test_due_in_autumn_dst_and_sev2_window(berlin, responder, service):
    # Thursday 22 October 2026 09:30 CEST; clocks go back on Sunday 25 October. SEV-2: 10 business days.
    incident = _resolved_at(datetime(2026, 10, 22, 9, 30, tzinfo=BERLIN), responder, service, level=2)
    due = services.due_at_for(incident).astimezone(BERLIN)
    assert due == datetime(2026, 11, 5, 9, 30, tzinfo=BERLIN)  # two weeks later, 09:30 CET
    assert due.utcoffset() == timedelta(hours=1)


def test_holidays_push_the_due_date(berlin, responder, service):
    Holiday.objects.create(day=date(2026, 4, 3), name="Good Friday")
    Holiday.objects.create(day=date(2026, 4, 6), name="Easter Monday")
    incident = _resolved_at(datetime(2026, 3, 27, 15, 0, tzinfo=BERLIN), responder, service, level=1)
    assert services.due_at_for(incident).astimezone(BERLIN) == datetime(2026, 4, 7, 15, 0, tzinfo=BERLIN)


def test_start_stores_due_date_and_refuses_open_incidents(responder, service):
    incident = f.resolved_incident(actor=responder, service=service, level=2)
    pm = services.start_postmortem(incident=incident, actor=responder)
    assert pm.due_at == services.due_at_for(incident)
    with pytest.raises(Conflict, match="already has a postmortem"):
        services.start_postmortem(incident=incident, actor=responder)
    with incident_services.quiet():
        open_incident = f.declare(actor=responder, service=service)
    with pytest.raises(Conflict, match="still open"):
        services.start_postmortem(incident=open_incident, actor=responder)


def test_only_responders_and_managers_start(support_user, release_lead, outsider, responder, service):
    incident = f.resolved_incident(actor=responder, service=service)
    for user in (support_user, release_lead, outsider):
        with pytest.raises(NotAllowed):
            services.start_postmortem(incident=incident, actor=user)


# --- prefill ----------------------------------------------------------------------------
def test_prefilled_sections_match_the_incident(responder, manager, service):
    t0 = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
    with time_machine.travel(t0, tick=False), incident_services.quiet():
        incident = f.declare(
            actor=responder, service=service, level=3, title="Invoices fail to render",
            summary="PDF rendering timed out for most invoices.", detection_source="support",
            started_at=t0 - timedelta(minutes=10), customers_affected=120,
        )  # fmt: skip
        incident_services.add_reported_customers(incident=incident, count=4)
    with time_machine.travel(t0 + timedelta(minutes=30), tick=False), incident_services.quiet():
        incident_services.change_severity(incident=incident, actor=responder, severity=2)
    with time_machine.travel(t0 + timedelta(minutes=90), tick=False), incident_services.quiet():
        incident_services.resolve(incident=incident, actor=responder)
    incident = Incident.objects.get(pk=incident.pk)
    pm = services.start_postmortem(incident=incident, actor=responder)

    assert pm.summary == "PDF rendering timed out for most invoices."
    assert pm.customer_impact.splitlines()[:4] == [
        "- Impact duration: 1h 40m (SEV-3: 40m; SEV-2: 1h 0m)",
        "- Services affected: Billing API",
        "- Customers affected: 120",
        "- Support reports raised: 4",
    ]
    assert "Support saw it first" in pm.detection
    assert "- Time to detect: 10m (impact start to detection)" in pm.detection
    assert "- Time to resolve: 1h 40m" in pm.detection
    # One timeline line per incident event, oldest first, with the event text.
    events = list(
        TimelineEvent.objects.filter(incident=incident)
        .exclude(kind="postmortem")
        .order_by("occurred_at", "id")
    )
    lines = pm.timeline.splitlines()
    assert len(lines) == len(events) >= 4
    for line, event in zip(lines, events, strict=True):
        assert line.startswith(f"- {event.occurred_at.astimezone(services.business_zone()):%Y-%m-%d %H:%M}")
        assert " ".join(event.text.split()) in line
    assert any("Severity raised SEV-3 -> SEV-2" in line for line in lines)
    # The start itself is on the incident's timeline.
    assert TimelineEvent.objects.filter(
        incident=incident, kind="postmortem", text__contains="started"
    ).exists()


def test_monitoring_detection_and_unknown_customer_count(responder, service):
    incident = f.resolved_incident(actor=responder, service=service, detection_source="monitoring")
    text = prefill.customer_impact(incident)
    assert "- Customers affected: unknown" in text
    assert "Monitoring saw it first" in prefill.detection(incident)


def test_timeline_is_editable_and_refillable(responder, service):
    pm = f.postmortem(actor=responder, incident=f.resolved_incident(actor=responder, service=service))
    services.update_postmortem(postmortem=pm, actor=responder, timeline="- 10:00 my own reconstruction")
    assert Postmortem.objects.get(pk=pm.pk).timeline == "- 10:00 my own reconstruction"
    services.refresh_from_incident(postmortem=pm, actor=responder, sections=["timeline"])
    assert "Declared" in Postmortem.objects.get(pk=pm.pk).timeline


# --- review and publication --------------------------------------------------------------------
def test_publish_requires_review_and_approval(responder, manager, manager2, service):
    pm = f.postmortem(actor=responder, incident=f.resolved_incident(actor=responder, service=service))
    with pytest.raises(Conflict, match="approve"):
        services.publish(postmortem=pm, actor=manager)
    with pytest.raises(Conflict, match="Submit"):
        services.approve(postmortem=pm, actor=manager, checklist=REVIEW_CHECKLIST_KEYS)
    with pytest.raises(InvalidInput, match="root cause"):
        services.submit_for_review(postmortem=pm, actor=responder)
    f.ready_for_review(pm, responder)
    services.submit_for_review(postmortem=pm, actor=responder)
    with pytest.raises(Conflict, match="approve"):
        services.publish(postmortem=pm, actor=responder)
    with pytest.raises(InvalidInput, match="checklist"):
        services.approve(postmortem=pm, actor=manager, checklist=REVIEW_CHECKLIST_KEYS[:2])
    pm = services.approve(postmortem=pm, actor=manager, checklist=REVIEW_CHECKLIST_KEYS)
    assert pm.approved_by == manager
    assert pm.approved_at is not None
    pm = services.publish(postmortem=pm, actor=responder)
    assert pm.status == "published"
    assert pm.published_by == responder
    assert pm.published_at is not None
    with pytest.raises(Conflict, match="published"):
        services.update_postmortem(postmortem=pm, actor=responder, summary="rewrite history")


def test_author_cannot_approve_own_postmortem(manager, manager2, service):
    pm = f.postmortem(actor=manager, incident=f.resolved_incident(actor=manager, service=service))
    f.ready_for_review(pm, manager)
    services.submit_for_review(postmortem=pm, actor=manager)
    with pytest.raises(NotAllowed, match="own"):
        services.approve(postmortem=pm, actor=manager, checklist=REVIEW_CHECKLIST_KEYS)
    services.approve(postmortem=pm, actor=manager2, checklist=REVIEW_CHECKLIST_KEYS)
    # The database refuses a self-approval even past the service.
    with pytest.raises(IntegrityError), transaction.atomic():
        Postmortem.objects.filter(pk=pm.pk).update(approved_by=manager)


def test_responders_cannot_approve(responder, manager, service):
    pm = f.postmortem(actor=manager, incident=f.resolved_incident(actor=manager, service=service))
    f.ready_for_review(pm, manager)
    services.submit_for_review(postmortem=pm, actor=manager)
    with pytest.raises(NotAllowed, match="managers"):
        services.approve(postmortem=pm, actor=responder, checklist=REVIEW_CHECKLIST_KEYS)


def test_editing_after_approval_withdraws_it(responder, manager, service):
    pm = f.postmortem(actor=responder, incident=f.resolved_incident(actor=responder, service=service))
    f.ready_for_review(pm, responder)
    services.submit_for_review(postmortem=pm, actor=responder)
    services.approve(postmortem=pm, actor=manager, checklist=REVIEW_CHECKLIST_KEYS)
    pm = services.update_postmortem(postmortem=pm, actor=responder, root_cause="Something else entirely.")
    assert pm.approved_at is None
    assert pm.review_checklist == []
    with pytest.raises(Conflict):
        services.publish(postmortem=pm, actor=manager)


def test_request_changes_returns_to_draft(responder, manager, service):
    pm = f.postmortem(actor=responder, incident=f.resolved_incident(actor=responder, service=service))
    f.ready_for_review(pm, responder)
    services.submit_for_review(postmortem=pm, actor=responder)
    with pytest.raises(InvalidInput):
        services.return_to_draft(postmortem=pm, actor=manager, reason=" ")
    pm = services.return_to_draft(postmortem=pm, actor=manager, reason="Go deeper than the trigger.")
    assert pm.status == "draft"


# --- closing the incident ------------------------------------------------------------------------
@pytest.mark.parametrize("level", [1, 2])
def test_closing_sev1_2_needs_published_postmortem(level, responder, manager, service):
    incident = f.resolved_incident(actor=responder, service=service, level=level)
    with pytest.raises(Conflict, match="published postmortem is required"):
        incident_services.close(incident=incident, actor=responder)
    pm = f.postmortem(actor=responder, incident=incident)
    with pytest.raises(Conflict, match="published postmortem is required"):
        incident_services.close(incident=incident, actor=responder)
    f.published(pm, responder, manager)
    closed = incident_services.close(incident=incident, actor=responder)
    assert closed.status == "closed"


def test_closing_sev3_needs_no_postmortem(responder, service):
    incident = f.resolved_incident(actor=responder, service=service, level=3)
    assert incident_services.close(incident=incident, actor=responder).status == "closed"


# --- action items ------------------------------------------------------------------------------
def test_wont_do_requires_a_reason(responder, manager, service):
    pm = f.postmortem(actor=responder, incident=f.resolved_incident(actor=responder, service=service))
    item = f.item(pm, responder, owner=manager)
    with pytest.raises(InvalidInput, match="why"):
        services.set_action_item_status(item=item, actor=responder, status="wont_do")
    with pytest.raises(InvalidInput):
        services.set_action_item_status(item=item, actor=responder, status="wont_do", reason="   ")
    # The database enforces it too.
    with pytest.raises(IntegrityError), transaction.atomic():
        ActionItem.objects.filter(pk=item.pk).update(
            status="wont_do", completed_at=timezone.now(), wont_do_reason=""
        )
    item = services.set_action_item_status(
        item=item, actor=responder, status="wont_do", reason="Replaced by OPS-7."
    )
    assert item.wont_do_reason == "Replaced by OPS-7."
    assert item.completed_at is not None


def test_status_moves_stamp_and_clear_completion_and_keep_history(responder, manager, service):
    pm = f.postmortem(actor=responder, incident=f.resolved_incident(actor=responder, service=service))
    item = f.item(pm, responder, owner=manager)
    item = services.set_action_item_status(item=item, actor=manager, status="in_progress")
    assert item.completed_at is None
    item = services.set_action_item_status(item=item, actor=manager, status="done")
    assert item.completed_at is not None
    item = services.set_action_item_status(item=item, actor=manager, status="open")
    assert item.completed_at is None
    services.update_action_item(
        item=item, actor=responder, priority="p1", tracker_url="https://linear.app/x/OPS-1"
    )
    history = list(
        item.history.order_by("history_date").values_list("status", "priority", "history_user__username")
    )
    assert history == [
        ("open", "p3", "responder"),
        ("in_progress", "p3", "manager"),
        ("done", "p3", "manager"),
        ("open", "p3", "manager"),
        ("open", "p1", "responder"),
    ]


def test_unknown_status_and_missing_owner_are_400(responder, service):
    pm = f.postmortem(actor=responder, incident=f.resolved_incident(actor=responder, service=service))
    item = f.item(pm, responder)
    with pytest.raises(InvalidInput):
        services.set_action_item_status(item=item, actor=responder, status="closed")
    with pytest.raises(InvalidInput):
        services.update_action_item(item=item, actor=responder, owner=None)
    with pytest.raises(InvalidInput):
        services.update_action_item(item=item, actor=responder, status="done")


def test_progress_percent(responder, manager, service):
    pm = f.postmortem(actor=responder, incident=f.resolved_incident(actor=responder, service=service))
    assert selectors.progress(pm) is None
    items = [f.item(pm, responder, title=f"item {i}") for i in range(5)]
    assert selectors.progress(pm) == 0
    services.set_action_item_status(item=items[0], actor=responder, status="done")
    services.set_action_item_status(item=items[1], actor=responder, status="done")
    services.set_action_item_status(item=items[2], actor=responder, status="in_progress")
    services.set_action_item_status(item=items[3], actor=responder, status="wont_do", reason="not worth it")
    # 2 done of the 4 that are to be done (the declined one counts neither way).
    assert selectors.progress(pm) == 50
    assert selectors.progress(selectors.postmortem_list().get(pk=pm.pk)) == 50
    services.set_action_item_status(item=items[4], actor=responder, status="done")
    services.set_action_item_status(item=items[2], actor=responder, status="done")
    assert selectors.progress(selectors.postmortem_list().get(pk=pm.pk)) == 100


def test_markdown_export_has_sections_and_items(responder, manager, service):
    pm = f.postmortem(actor=responder, incident=f.resolved_incident(actor=responder, service=service))
    f.item(pm, responder, owner=manager, title="Add | pipes safely")
    pm = f.published(pm, responder, manager)
    text = selectors.postmortem_markdown(pm)
    assert text.startswith(f"# Postmortem: {pm.incident.reference} ")
    assert "## Root cause and contributing factors\n\nThe connection pool was exhausted" in text
    assert "Add \\| pipes safely" in text
    assert f"Published by {manager}" in text
    assert "Progress: 0% done." in text


def test_backdating_steps_refuses_future_and_naive_times(responder, manager, service):
    pm = f.postmortem(actor=responder, incident=f.resolved_incident(actor=responder, service=service))
    f.ready_for_review(pm, responder)
    with pytest.raises(InvalidInput, match="future"):
        services.submit_for_review(postmortem=pm, actor=responder, at=timezone.now() + timedelta(hours=1))
    with pytest.raises(InvalidInput, match="time zone"):
        services.submit_for_review(postmortem=pm, actor=responder, at=datetime(2026, 1, 1, 12, 0))
    at = pm.incident.resolved_at + timedelta(minutes=5)
    pm = services.submit_for_review(postmortem=pm, actor=responder, at=at)
    assert pm.submitted_at == at
    assert TimelineEvent.objects.get(incident=pm.incident, text__contains="submitted").occurred_at == at
