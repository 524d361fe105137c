"""The triage changelist and its actions; the support settings page."""

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from escalations import services
from escalations.models import Escalation, SupportSettings
from incidents.models import Incident, TimelineEvent
from notifications.models import Notification
from oncall.models import Page
from tests.escalations.factories import file, paged_service, run_dispatch
from tests.incidents.factories import declare

pytestmark = pytest.mark.django_db
CHANGELIST = reverse("admin:escalations_escalation_changelist")


@pytest.fixture
def service(db):
    return paged_service(name="Checkout")


@pytest.fixture(autouse=True)
def _no_surge(db):
    SupportSettings.objects.filter(pk=1).update(surge_threshold=1000)


def _action(client, action, escalations, **extra):
    data = {"action": action, "_selected_action": [e.pk for e in escalations], **extra}
    return client.post(CHANGELIST, data, follow=True)


def test_changelist_query_count_is_constant(client, responder, support_user, service):
    other = paged_service(name="Search")
    SupportSettings.load()
    SupportSettings.objects.filter(pk=1).update(surge_threshold=1000)  # rows of every status, no surge
    client.force_login(responder)
    file(support_user, service=service)
    client.get(CHANGELIST)  # warm the content-type cache

    def count():
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            assert client.get(CHANGELIST).status_code == 200
        return len(ctx.captured_queries)

    one = count()
    for n in range(12):
        e = file(support_user, service=other if n % 2 else service, customer=f"c{n}", impact="degraded")
        if n % 3 == 0:
            services.acknowledge(escalation=e, actor=responder)
    services.open_incident(escalation=Escalation.objects.filter(status="new").first(), actor=responder)
    # session, user, groups, rows (service, reporter, acknowledger, incident, policy joined),
    # the service filter's choices, the status filter... the same for 1 row as for 14.
    assert count() == one


def test_changelist_shows_sla_breach_badge_and_filters(client, responder, support_user, service):
    with time_machine.travel(timezone.now() - timedelta(hours=1), tick=False):
        late = file(support_user, service=service, customer="late-co")
    fresh = file(support_user, service=service, customer="fresh-co", impact="degraded")
    client.force_login(responder)
    body = client.get(CHANGELIST).content.decode()
    assert "SLA breached" in body
    assert "due in" in body
    breached = client.get(CHANGELIST, {"sla": "breached"}).content.decode()
    assert "late-co" in breached
    assert "fresh-co" not in breached
    by_impact = client.get(CHANGELIST, {"impact": "degraded"}).content.decode()
    assert "fresh-co" in by_impact
    assert "late-co" not in by_impact
    by_age = client.get(CHANGELIST, {"age": "1h"}).content.decode()
    assert "fresh-co" in by_age
    by_service = client.get(CHANGELIST, {"service__id__exact": service.pk}).content.decode()
    assert "fresh-co" in by_service
    by_status = client.get(CHANGELIST, {"status__exact": "new"}).content.decode()
    assert "late-co" in by_status
    assert client.get(CHANGELIST, {"q": late.reference}).status_code == 200
    assert client.get(CHANGELIST, {"q": "ESC-\u00b2"}).status_code == 200  # isdigit() but not int()
    assert fresh.pk


def test_acknowledge_action_acknowledges_escalation_and_its_page(client, responder, support_user, service):
    escalation = file(support_user, service=service)
    client.force_login(responder)
    response = _action(client, "acknowledge_selected", [escalation])
    assert f"Acknowledged: {escalation.reference}" in response.content.decode()
    escalation.refresh_from_db()
    assert escalation.status == "acknowledged"
    assert escalation.acknowledged_by == responder
    escalation.page.refresh_from_db()
    assert escalation.page.status == Page.Status.ACKNOWLEDGED
    again = _action(client, "acknowledge_selected", [escalation])
    assert "already acknowledged by" in again.content.decode()


def test_link_action_asks_for_the_incident_then_links(client, responder, support_user, service):
    escalation = file(support_user, service=service, customers_reporting=5)
    incident = declare(actor=responder, level=2, service=service)
    client.force_login(responder)
    ask = _action(client, "link_selected", [escalation])
    assert b"Link to an incident" in ask.content
    assert escalation.reference.encode() in ask.content
    done = _action(client, "link_selected", [escalation], apply="Link", incident=incident.pk)
    assert f"Linked: {escalation.reference}" in done.content.decode()
    escalation.refresh_from_db()
    assert escalation.status == "linked"
    assert escalation.incident == incident
    assert escalation.acknowledged_by == responder
    incident.refresh_from_db()
    assert incident.reported_customers == 5
    assert TimelineEvent.objects.filter(
        incident=incident, kind="support_report", related_id=escalation.pk
    ).exists()
    escalation.page.refresh_from_db()
    assert escalation.page.status == Page.Status.RESOLVED


def test_open_incident_action(client, responder, support_user, service):
    started = timezone.now() - timedelta(hours=2)
    first = file(support_user, service=service, started_at=started, summary="Cards declined\nmore detail")
    second = file(support_user, service=service, customer="globex")
    client.force_login(responder)
    response = _action(
        client, "open_incident_selected", [first, second], apply="Open", severity="2", title=""
    )
    incident = Incident.objects.get()
    assert response.redirect_chain[-1][0] == reverse("admin:incidents_incident_change", args=[incident.pk])
    assert incident.severity.level == 2
    assert incident.title == "Checkout: Cards declined"
    assert incident.detected_at == first.created_at
    assert incident.started_at == started
    assert incident.detection_source == "support"
    assert incident.declared_by == responder
    assert Escalation.objects.filter(incident=incident, status="linked").count() == 2


def test_open_incident_refuses_a_not_sure_escalation(client, responder, support_user):
    escalation = file(support_user, service=None)
    client.force_login(responder)
    response = _action(client, "open_incident_selected", [escalation], apply="Open", severity="3")
    assert "has no service" in response.content.decode()
    assert Incident.objects.count() == 0


def test_resolve_action_requires_a_reply_and_tells_support(client, responder, support_user, service):
    escalation = file(support_user, service=service)
    client.force_login(responder)
    empty = _action(client, "resolve_selected", [escalation], apply="Resolve", reply="")
    assert b"This field is required." in empty.content
    done = _action(
        client, "resolve_selected", [escalation], apply="Resolve", reply="A browser extension; fixed."
    )
    assert f"Resolved: {escalation.reference}" in done.content.decode()
    escalation.refresh_from_db()
    assert escalation.status == "resolved"
    assert escalation.reply == "A browser extension; fixed."
    assert escalation.resolved_by == responder
    assert escalation.acknowledged_by == responder
    assert Notification.objects.filter(
        event_key=f"escalations:{escalation.pk}:resolved", recipient=support_user
    ).exists()
    escalation.page.refresh_from_db()
    assert escalation.page.status == Page.Status.RESOLVED


@pytest.mark.parametrize(
    ("actor", "status", "can_act"),
    [("manager", 200, True), ("responder", 200, True), ("release_lead", 403, False), ("superuser", 200, True),
     ("support_user", 403, False), ("outsider", 403, False)],
)  # fmt: skip
def test_who_sees_and_triages(client, request, actor, status, can_act, support_user, service):
    escalation = file(support_user, service=service)
    user = request.getfixturevalue(actor)
    client.force_login(user)
    response = client.get(CHANGELIST)
    assert response.status_code == status
    if status == 200:
        assert (b"acknowledge_selected" in response.content) is can_act
        change = client.get(reverse("admin:escalations_escalation_change", args=[escalation.pk]))
        assert change.status_code == 200
        assert b"acme-corp" in change.content


def test_settings_page_edits_through_the_service(client, manager, responder):
    client.force_login(manager)
    url = reverse("admin:escalations_supportsettings_changelist")
    change = client.get(url)
    assert change.status_code == 302
    assert change["Location"].endswith("/1/change/")
    data = {
        "triage_policy": "", "blocked_ack_minutes": "10", "degraded_ack_minutes": "30", "question_ack_minutes": "",
        "surge_threshold": "4", "surge_window_minutes": "20", "surge_severity": "2",
        "duplicate_window_minutes": "60",
    }  # fmt: skip
    response = client.post(change["Location"], data)
    assert response.status_code == 302
    row = SupportSettings.load()
    assert (row.blocked_ack_minutes, row.surge_threshold, row.surge_severity) == (10, 4, 2)
    assert row.sla_display("question") == "next business day"
    client.force_login(responder)
    assert client.get(change["Location"]).status_code == 403


def test_change_page_says_whether_on_call_was_paged_yet(client, responder, support_user, service):
    client.force_login(responder)
    queued = file(support_user, service=service, dispatch=False)
    url = reverse("admin:escalations_escalation_change", args=[queued.pk])
    assert b"Queued: a worker is paging on-call" in client.get(url).content
    paged = run_dispatch(queued)
    content = client.get(url).content.decode()
    assert f"Page #{paged.page_id}" in content
    assert "Queued:" not in content


def test_change_page_of_an_attached_report_points_at_the_incident(client, responder, support_user, service):
    incident = declare(actor=responder, level=3, service=service)
    attached = services.attach_to_incident(
        reporter=support_user,
        incident=incident,
        customer="acme",
        contact="x",
        summary="down",
        impact="blocked",
    )
    client.force_login(responder)
    content = client.get(reverse("admin:escalations_escalation_change", args=[attached.pk])).content.decode()
    assert f"None of its own: {incident.reference}&#x27;s response has it" in content
