from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from incidents import services
from incidents.models import Incident, Severity, StatusUpdate
from tests.factories import ServiceFactory, TeamFactory
from tests.incidents.factories import declare

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:incidents_incident_changelist")


def change_url(incident):
    return reverse("admin:incidents_incident_change", args=[incident.pk])


@pytest.mark.parametrize("rows", [1, 100])
def test_changelist_query_count_is_constant(manager_client, django_assert_num_queries, rows):
    team = TeamFactory()
    svc_a, svc_b = ServiceFactory(owner_team=team), ServiceFactory(owner_team=team)
    with services.quiet():
        for i in range(rows):
            incident = declare(actor=None, level=1 + i % 4, service=svc_a)
            incident.services.add(svc_b)
    # session, user, user perms, group perms, severity filter choices, team filter choices,
    # service filter choices, COUNT (filtered), COUNT (full), the page rows (severity,
    # commander, team, primary service, roles joined), the services prefetch
    with django_assert_num_queries(11):
        response = manager_client.get(CHANGELIST + "?all=")
    assert response.status_code == 200
    content = response.content.decode()
    assert content.count("op-badge-") >= 2 * min(rows, 50)
    assert svc_b.name in content


def test_changelist_columns_search_and_filters(manager_client, manager, responder):
    sev1 = declare(
        actor=manager, level=1, title="DNS outage", detected_at=timezone.now() - timedelta(hours=2)
    )
    sev3 = declare(actor=manager, level=3, title="Slow search")
    services.acknowledge(incident=sev3, actor=responder)
    body = manager_client.get(CHANGELIST).content.decode()
    assert "SEV-1" in body
    assert "overdue" in body
    assert "Declare incident" in body
    assert str(responder) in body  # commander column
    assert "(ongoing)" in body

    def titles(query):
        return [i.title for i in manager_client.get(CHANGELIST + query).context["cl"].result_list]

    assert titles("?q=dns") == ["DNS outage"]
    assert titles(f"?q={sev3.reference}") == ["Slow search"]
    assert titles(f"?q={sev3.number}") == ["Slow search"]
    assert titles("?severity=1") == ["DNS outage"]
    assert titles("?state=open") == ["Slow search", "DNS outage"]
    assert titles("?status=resolved") == []
    assert titles("?detection_source=manual") == ["Slow search", "DNS outage"]
    assert titles(f"?owning_team__id__exact={sev1.owning_team_id}") == ["DNS outage"]


def test_quick_declare_in_admin(manager_client, manager):
    team = TeamFactory(manager=manager)
    svc = ServiceFactory(name="Checkout", owner_team=team)
    form = manager_client.get(reverse("admin:incidents_incident_add"))
    assert form.status_code == 200
    response = manager_client.post(
        reverse("admin:incidents_incident_add"),
        {"title": "Checkout failing", "severity": Severity.objects.get(level=2).pk, "services": [svc.pk],
         "detection_source": "manual"},
    )  # fmt: skip
    assert response.status_code == 302, response.context["adminform"].form.errors
    incident = Incident.objects.get()
    assert response["Location"].endswith("/") or incident.reference
    assert incident.owning_team == team
    assert incident.declared_by == manager
    assert list(incident.services.all()) == [svc]
    assert incident.timeline.filter(kind="declared").exists()


def test_declare_requires_a_service(manager_client):
    response = manager_client.post(
        reverse("admin:incidents_incident_add"),
        {"title": "x", "severity": Severity.objects.get(level=2).pk, "detection_source": "manual"},
    )
    assert response.status_code == 200
    assert "services" in response.context["adminform"].form.errors
    assert not Incident.objects.exists()


def test_change_page_shows_timeline_updates_and_forms(manager_client, manager, responder):
    incident = declare(actor=manager, title="Queue backlog")
    services.post_update(incident=incident, actor=manager, audience="internal", text="Scaling workers.")
    services.add_note(incident=incident, actor=responder, text="Consumer lag at 2M")
    body = manager_client.get(change_url(incident)).content.decode()
    assert 'id="incident-timeline"' in body
    assert "Consumer lag at 2M" in body
    assert "Scaling workers." in body
    assert 'id="post-update-form"' in body
    assert 'id="add-note-form"' in body
    for label in ("Acknowledge", "Take command", "Cause identified", "Mark mitigated", "Resolve"):
        assert f">{label}</button>" in body
    assert ">Close</button>" not in body


def test_transition_buttons_update_and_note_views(manager_client, manager):
    incident = declare(actor=manager)
    post = manager_client.post
    r = post(reverse("admin:incidents_incident_transition", args=[incident.pk, "acknowledge"]), follow=True)
    assert "Acknowledged" in r.content.decode()
    r = post(reverse("admin:incidents_incident_transition", args=[incident.pk, "acknowledge"]), follow=True)
    assert "already acknowledged by" in r.content.decode()  # shown as a message, not a 500
    post(
        reverse("admin:incidents_incident_post_update", args=[incident.pk]),
        {"audience": "external", "text": "We are fixing it.", "replace_customer_message": "on"},
    )
    post(
        reverse("admin:incidents_incident_add_note", args=[incident.pk]),
        {"text": "Rollback started", "occurred_at": ""},
    )
    r = post(reverse("admin:incidents_incident_post_update", args=[incident.pk]), {"audience": "internal", "text": ""},
             follow=True)  # fmt: skip
    assert "This field is required" in r.content.decode()
    post(reverse("admin:incidents_incident_transition", args=[incident.pk, "resolve"]))
    r = post(reverse("admin:incidents_incident_transition", args=[incident.pk, "bogus"]))
    assert r.status_code == 403
    incident.refresh_from_db()
    assert incident.status == "resolved"
    assert incident.customer_message == "We are fixing it."
    assert StatusUpdate.objects.filter(incident=incident).count() == 1
    assert incident.timeline.filter(kind="note", text="Rollback started").exists()
    assert (
        manager_client.get(
            reverse("admin:incidents_incident_transition", args=[incident.pk, "close"])
        ).status_code
        == 403
    )
    md = manager_client.get(reverse("admin:incidents_incident_markdown", args=[incident.pk]))
    assert md.status_code == 200
    assert "Rollback started" in md.content.decode()


def test_edit_form_routes_through_services(manager_client, manager, responder):
    incident = declare(actor=manager, level=3)
    services.acknowledge(incident=incident, actor=manager)
    data = {
        "title": "Renamed", "summary": "", "severity": Severity.objects.get(level=2).pk,
        "services": [s.pk for s in incident.services.all()], "primary_service": incident.primary_service_id,
        "owning_team": incident.owning_team_id, "detection_source": "manual", "commander": responder.pk,
        "comms_lead": "", "scribe": "", "customer_impact": "", "customers_affected": "",
        "customer_message": "Investigating.", "channel_url": "", "tags": "",
        "started_at_0": timezone.localtime(incident.started_at).strftime("%Y-%m-%d"),
        "started_at_1": timezone.localtime(incident.started_at).strftime("%H:%M:%S"),
    }  # fmt: skip
    response = manager_client.post(change_url(incident), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    incident.refresh_from_db()
    assert incident.title == "Renamed"
    assert incident.severity.level == 2
    assert incident.commander == responder
    assert incident.customer_message == "Investigating."
    kinds = set(incident.timeline.values_list("kind", flat=True))
    assert {"details_changed", "severity_changed", "role_changed", "customer_message"} <= kinds
    # started after detection: a form error, nothing saved
    later = timezone.localtime(incident.detected_at + timedelta(hours=1))
    data.update(
        started_at_0=later.strftime("%Y-%m-%d"), started_at_1=later.strftime("%H:%M:%S"), title="Again"
    )
    response = manager_client.post(change_url(incident), data)
    assert response.status_code == 200
    assert "Impact cannot start after" in response.content.decode()
    assert Incident.objects.get(pk=incident.pk).title == "Renamed"


def test_list_actions_use_services(manager_client, manager, responder):
    a = declare(actor=manager)
    b = declare(actor=manager)
    services.acknowledge(incident=b, actor=responder)
    r = manager_client.post(
        CHANGELIST, {"action": "acknowledge_selected", "_selected_action": [a.pk, b.pk]}, follow=True
    )
    body = r.content.decode()
    assert f"Acknowledged: {a.reference}" in body
    assert "already acknowledged by" in body
    manager_client.post(CHANGELIST, {"action": "resolve_selected", "_selected_action": [a.pk, b.pk]})
    assert set(Incident.objects.values_list("status", flat=True)) == {"resolved"}


def test_responder_uses_admin_support_cannot(client, responder, support_user, manager):
    incident = declare(actor=manager)
    client.force_login(responder)
    assert client.get(change_url(incident)).status_code == 200
    assert client.get(reverse("admin:incidents_incident_add")).status_code == 200
    client.force_login(support_user)
    assert client.get(change_url(incident)).status_code == 403
    r = client.post(reverse("admin:incidents_incident_transition", args=[incident.pk, "acknowledge"]))
    assert r.status_code == 403
    assert Incident.objects.get(pk=incident.pk).acknowledged_at is None


def test_release_lead_reads_but_cannot_act(client, release_lead, manager):
    incident = declare(actor=manager)
    client.force_login(release_lead)
    assert client.get(change_url(incident)).status_code == 200
    r = client.post(reverse("admin:incidents_incident_transition", args=[incident.pk, "acknowledge"]))
    assert r.status_code == 403


def test_history_view_shows_who_changed_what(manager_client, manager):
    incident = declare(actor=manager)
    services.update_incident(incident=incident, actor=manager, title="New title")
    r = manager_client.get(reverse("admin:incidents_incident_history", args=[incident.pk]))
    assert r.status_code == 200
    assert str(manager) in r.content.decode()


def test_severity_admin_edits_through_service(manager_client, manager):
    sev = Severity.objects.get(level=3)
    url = reverse("admin:incidents_severity_change", args=[sev.pk])
    data = {"name": sev.name, "description": sev.description, "examples": "", "ack_sla_mode": "minutes",
            "ack_sla_minutes": 120, "update_cadence_minutes": "", "postmortem_due_business_days": ""}  # fmt: skip
    assert manager_client.post(url, data).status_code == 302
    assert Severity.objects.get(level=3).ack_sla_minutes == 120
    data["ack_sla_minutes"] = ""
    response = manager_client.post(url, data)
    assert response.status_code == 200
    assert "Give the acknowledge SLA in minutes" in response.content.decode()
    assert manager_client.get(reverse("admin:incidents_severity_changelist")).status_code == 200
