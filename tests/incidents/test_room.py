"""The incident room (the incident's admin change page) and the short declare form.

Every button posts to a small admin view that calls one incidents service; bad input is a
message and nothing changed, never a 500."""

from __future__ import annotations

import re

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from escalations.models import Escalation
from incidents import room, services
from incidents.models import Incident, Severity
from postmortems.models import Postmortem
from tests.escalations.factories import file, paged_service
from tests.factories import ServiceFactory, TeamFactory
from tests.incidents.factories import declare
from tests.runbooks.factories import RunbookFactory

pytestmark = pytest.mark.django_db

ADD = "admin:incidents_incident_add"


def room_url(incident):
    return reverse("admin:incidents_incident_change", args=[incident.pk])


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


# --- declare -----------------------------------------------------------------------------------
def test_declare_form_is_short_with_no_default_severity_and_the_guide_beside_each(manager_client):
    body = manager_client.get(reverse(ADD)).content.decode()
    radios = re.findall(r'<input type="radio" name="severity"[^>]*>', body)
    assert len(radios) == 4
    assert not any("checked" in r for r in radios), "no severity is preselected"
    for sev in Severity.objects.all():
        assert sev.description[:40] in body  # the guide is beside each choice
        assert f"acknowledge within {sev.ack_sla_display}" in body
    assert re.search(r'<input type="checkbox" name="i_am_commander"[^>]*checked', body)
    assert 'name="drill"' in body
    assert "What customers see" in body
    assert 'name="started_at"' not in body
    assert 'name="tags"' not in body
    assert 'value="Declare incident"' in body


def test_declare_lands_in_the_room_with_me_as_commander(manager_client, manager):
    svc = ServiceFactory(owner_team=TeamFactory(manager=manager))
    sev2 = Severity.objects.get(level=2)
    response = manager_client.post(
        reverse(ADD),
        {"title": "Card payments failing", "severity": sev2.pk, "services": [svc.pk], "i_am_commander": "on",
         "customer_impact": "Some cards are declined."},
    )  # fmt: skip
    incident = Incident.objects.get()
    assert response.status_code == 302
    assert response["Location"] == room_url(incident)
    assert incident.commander == manager
    assert incident.customer_impact == "Some cards are declined."
    assert incident.detection_source == Incident.DetectionSource.MANUAL
    assert any(f"{incident.reference} declared" in m for m in messages_of(response))


def test_declare_without_commander_and_without_severity(manager_client, manager):
    svc = ServiceFactory(owner_team=TeamFactory(manager=manager))
    missing = manager_client.post(reverse(ADD), {"title": "x", "services": [svc.pk]})
    assert missing.status_code == 200
    assert "severity" in missing.context["adminform"].form.errors
    sev3 = Severity.objects.get(level=3)
    manager_client.post(reverse(ADD), {"title": "Slow search", "severity": sev3.pk, "services": [svc.pk]})
    assert Incident.objects.get().commander is None


def test_declare_from_an_escalation_prefills_and_links_it(manager_client, manager, support_user):
    service = paged_service(name="Checkout")
    esc = file(
        support_user, service=service, summary="Checkout shows error 500\nsince 10:00", customers_reporting=3
    )
    change = manager_client.get(
        reverse("admin:escalations_escalation_change", args=[esc.pk])
    ).content.decode()
    assert f"?from=escalation:{esc.pk}" in change  # "Declare incident from this"
    body = manager_client.get(reverse(ADD) + f"?from=escalation:{esc.pk}").content.decode()
    assert f"Prefilled from support escalation {esc.reference}" in body
    assert "Checkout: Checkout shows error 500" in body
    assert f'value="escalation:{esc.pk}"' in body
    response = manager_client.post(
        reverse(ADD),
        {"title": "Checkout: errors", "severity": Severity.objects.get(level=2).pk, "services": [service.pk],
         "detection_source": "support", "declared_from": f"escalation:{esc.pk}", "i_am_commander": "on"},
    )  # fmt: skip
    assert response.status_code == 302
    incident = Incident.objects.get()
    esc.refresh_from_db()
    assert esc.incident == incident
    assert esc.status == Escalation.Status.LINKED
    assert incident.detection_source == "support"
    room_body = manager_client.get(room_url(incident)).content.decode()
    assert 'id="room-escalations"' in room_body
    assert "3 customers" in room_body


def test_declare_from_an_on_call_page_prefills(manager_client, support_user):
    service = paged_service(name="Search")
    esc = file(support_user, service=service)
    page = esc.page
    change = manager_client.get(reverse("admin:oncall_page_change", args=[page.pk])).content.decode()
    assert f"?from=page:{page.pk}" in change  # "Declare incident from this" on the page's admin page
    body = manager_client.get(reverse(ADD) + f"?from=page:{page.pk}").content.decode()
    assert f"Prefilled from page #{page.pk}" in body
    assert page.title[:30] in body


@pytest.mark.parametrize("value", ["page:999999", "page:abc", "bogus:1", "page:-1", "escalation:0", "x"])
def test_declare_from_something_missing_opens_an_empty_form_with_a_warning(manager_client, value):
    response = manager_client.get(reverse(ADD) + f"?from={value}")
    assert response.status_code == 200
    assert "Nothing to prefill from" in response.content.decode()


def test_support_cannot_prefill_from_an_escalation(client, support_user, responder):
    esc = file(support_user, service=paged_service(), dispatch=False)
    assert room.declare_source("escalation").prefill(esc.pk, support_user) is None
    assert room.declare_source("escalation").prefill(esc.pk, responder) is not None


# --- the room ------------------------------------------------------------------------------------
def test_room_shows_header_actions_composer_feed_and_panels(manager_client, manager, responder):
    incident = declare(actor=manager, title="Queue backlog", commander=manager)
    services.add_note(incident=incident, actor=responder, text="Consumer lag at 2M")
    body = manager_client.get(room_url(incident)).content.decode()
    assert (
        body.index('id="incident-room"')
        < body.index('id="post-update-form"')
        < body.index('id="room-details"')
    )
    assert "next update due in" in body  # SEV-2 has an update cadence
    assert 'id="room-countdown"' in body
    for label in ("Acknowledge", "Cause identified", "Mark mitigated", "Resolve", "Change severity"):
        assert f">{label}</button>" in body
    assert ">Take command</button>" not in body  # already the commander
    for key in ("updates", "state", "pages", "escalations", "notes"):
        assert f'data-filter="{key}"' in body
    assert 'data-group="notes"' in body
    assert 'name="_save"' in body  # the full form still saves, under "Edit details"
    assert 'data-template="We are investigating' in body
    assert 'id="room-pages"' in body
    assert 'id="room-runbooks"' in body
    assert 'id="room-status"' in body


def test_feed_is_newest_first(manager_client, manager, responder):
    incident = declare(actor=manager)
    services.add_note(incident=incident, actor=responder, text="first note")
    services.add_note(incident=incident, actor=responder, text="second note")
    body = manager_client.get(room_url(incident)).content.decode()
    assert body.index("second note") < body.index("first note") < body.index("Declared SEV-2")


def test_change_severity_needs_a_reason_and_records_it(manager_client, manager):
    incident = declare(actor=manager, level=3)
    url = reverse("admin:incidents_incident_severity", args=[incident.pk])
    sev1 = Severity.objects.get(level=1)
    no_reason = manager_client.post(url, {"severity": sev1.pk, "reason": ""})
    assert no_reason.status_code == 302
    incident.refresh_from_db()
    assert incident.severity.level == 3
    manager_client.post(url, {"severity": sev1.pk, "reason": "All EU customers affected"})
    incident.refresh_from_db()
    assert incident.severity.level == 1
    assert incident.timeline.filter(
        kind="severity_changed", text__contains="All EU customers affected"
    ).exists()
    same = manager_client.post(url, {"severity": sev1.pk, "reason": "again"}, follow=True)
    assert "already SEV-1" in same.content.decode()  # the service's refusal, as a message


def test_assign_role_in_place(manager_client, manager, responder):
    incident = declare(actor=manager)
    url = reverse("admin:incidents_incident_role", args=[incident.pk])
    manager_client.post(url, {"role": "comms_lead", "user": responder.pk})
    incident.refresh_from_db()
    assert incident.comms_lead == responder
    for bad in ({"role": "owner", "user": responder.pk}, {"role": "scribe", "user": "x"}, {}):
        assert manager_client.post(url, bad).status_code == 302
    incident.refresh_from_db()
    assert incident.scribe is None


def test_link_runbook_from_the_room(manager_client, manager):
    incident = declare(actor=manager)
    url = reverse("admin:incidents_incident_runbook", args=[incident.pk])
    for bad in ({"runbook": "x"}, {"runbook": "999999"}, {"runbook": "99999999999999999999999"}):
        assert manager_client.post(url, bad).status_code == 302
    assert not incident.runbooks.exists()
    runbook = RunbookFactory()
    manager_client.post(url, {"runbook": runbook.pk})
    assert incident.runbooks.filter(pk=runbook.pk).exists()
    assert incident.timeline.filter(kind="runbook").exists()


@pytest.mark.parametrize("name", ["severity", "role", "runbook"])
def test_room_views_refuse_get_and_outsiders(
    client, manager_client, manager, support_user, release_lead, name
):
    incident = declare(actor=manager)
    url = reverse(f"admin:incidents_incident_{name}", args=[incident.pk])
    assert manager_client.get(url).status_code == 403
    client.force_login(release_lead)
    assert client.post(url, {}).status_code == 403
    client.force_login(support_user)
    assert client.post(url, {}).status_code in (302, 403)  # support is not staff: sent to the admin login
    missing = reverse(f"admin:incidents_incident_{name}", args=[999999])
    assert manager_client.post(missing, {}).status_code in (403, 404)  # like the transition buttons


def test_refused_close_offers_start_postmortem_which_opens_it(manager_client, manager, monkeypatch):
    from postmortems.services import close_guard

    monkeypatch.setattr(services, "_close_guards", [close_guard])  # tests/incidents clears them
    incident = declare(actor=manager, level=1)
    services.resolve(incident=incident, actor=manager)
    close = reverse("admin:incidents_incident_transition", args=[incident.pk, "close"])
    response = manager_client.post(close, follow=True)
    body = response.content.decode()
    assert "cannot be closed yet: a published postmortem is required" in body
    start = reverse("admin:postmortems_postmortem_start_from_incident", args=[incident.pk])
    assert f'action="{start}"' in body
    assert ">Start postmortem</button>" in body
    incident.refresh_from_db()
    assert incident.status == "resolved"
    opened = manager_client.post(start)
    pm = Postmortem.objects.get(incident=incident)
    assert opened["Location"] == reverse("admin:postmortems_postmortem_change", args=[pm.pk])
    assert pm.owner == manager
    again = manager_client.post(start, follow=True)
    assert "already has a postmortem" in again.content.decode()
    body = manager_client.get(room_url(incident)).content.decode()
    assert 'id="room-postmortem"' in body
    assert "Draft" in body
    assert ">Open postmortem<" in body
    assert manager_client.get(start).status_code == 403
    assert (
        manager_client.post(
            reverse("admin:postmortems_postmortem_start_from_incident", args=[999999])
        ).status_code
        == 404
    )


def test_a_broken_panel_is_skipped_and_panels_are_ordered(manager_client, manager):
    def broken(incident, request):
        raise RuntimeError("boom")

    room.register_room_panel("zz-broken", "admin/incidents/room/pages_panel.html", broken, order=1)
    room.register_room_panel("aa-hidden", "admin/incidents/room/pages_panel.html", lambda i, r: None, order=2)
    try:
        incident = declare(actor=manager)
        response = manager_client.get(room_url(incident))
        assert response.status_code == 200
        body = response.content.decode()
        assert 'data-panel="zz-broken"' not in body
        assert 'data-panel="aa-hidden"' not in body
        names = [p.name for p in room.room_panels()]
        assert names.index("zz-broken") < names.index("status") < names.index("pages")
    finally:
        room.unregister_room_panel("zz-broken")
        room.unregister_room_panel("aa-hidden")


def test_saving_edit_details_returns_to_the_room(manager_client, manager):
    incident = declare(actor=manager, title="Old title")
    page = manager_client.get(room_url(incident))
    form = page.context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k not in ("services", "runbooks")}
    data.update(
        title="New title",
        severity=incident.severity_id,
        services=[s.pk for s in incident.services.all()],
        started_at_0=incident.started_at.strftime("%Y-%m-%d"),
        started_at_1=incident.started_at.strftime("%H:%M:%S"),
        _save="Save",
    )
    for key in ("primary_service", "owning_team", "commander", "comms_lead", "scribe"):
        data[key] = getattr(incident, f"{key}_id") or ""
    response = manager_client.post(room_url(incident), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert response["Location"] == room_url(incident)
    incident.refresh_from_db()
    assert incident.title == "New title"


def test_edit_details_errors_reopen_the_details_tab(manager_client, manager):
    incident = declare(actor=manager)
    response = manager_client.post(
        room_url(incident) + "?tab=details",
        {"title": "", "severity": incident.severity_id, "services": [s.pk for s in incident.services.all()],
         "detection_source": "manual", "started_at_0": "", "started_at_1": ""},
    )  # fmt: skip
    assert response.status_code == 200
    assert 'data-details-open="1"' in response.content.decode()


def test_declare_button_in_every_admin_header_for_those_who_may_declare(client, manager_client, release_lead):
    for url in ("/admin/", "/admin/catalog/service/", reverse(ADD)):
        body = manager_client.get(url).content.decode()
        assert 'id="op-declare-button"' in body
        assert 'aria-keyshortcuts="D"' in body
    client.force_login(release_lead)
    assert 'id="op-declare-button"' not in client.get("/admin/").content.decode()
