"""Defect 14: an external update containing a control character ("a\\u000bb") made
/status/feed.atom and /status/feed.rss answer 500 for everyone from then on (XML 1.0 cannot
carry it). Such characters are refused at every door that writes text the status page and
its feeds show, and rows stored before that are rendered without them."""

from datetime import timedelta

import feedparser
import pytest
from django.urls import reverse
from django.utils import timezone

from incidents import services as incidents
from incidents.models import Incident, StatusUpdate
from opsportal.errors import InvalidInput
from status import services
from status.models import Component, PublicIncident, ScheduledMaintenance
from tests.status.factories import component
from tests.status.factories import declare_public as declare

pytestmark = pytest.mark.django_db

BAD = [
    "a\u000bb",  # the reported one: vertical tab
    "a\u0000b",  # NUL (PostgreSQL refuses it too)
    "a\u001b[31mb",  # an ANSI colour escape pasted from a terminal
    "a\u007fb",  # DEL
    "a\u0085b",  # a C1 control (NEL)
    "a\ufffeb",  # a non-character XML refuses
]
FEEDS = ["/status/feed.atom", "/status/feed.rss"]


@pytest.fixture
def open_incident(manager, django_capture_on_commit_callbacks):
    api = component(name="Public API", group="API")
    with django_capture_on_commit_callbacks(execute=True):
        incident = declare(actor=manager, level=2, service=api.service, title="Elevated API errors")
        incidents.post_update(
            incident=incident, actor=manager, audience="external", text="We are investigating API errors."
        )
    return incident


# --- rows already stored: every public page still answers, the feeds are valid XML --------
@pytest.mark.parametrize("url", FEEDS)
def test_feeds_render_rows_stored_with_control_characters(client, open_incident, url):
    StatusUpdate.objects.filter(incident=open_incident).update(text="We are \u000binvestigating\u001b.")
    Incident.objects.filter(pk=open_incident.pk).update(title="Elevated\u000c API\ufffe errors")
    client.raise_request_exception = True
    response = client.get(url)
    assert response.status_code == 200
    feed = feedparser.parse(response.content)
    assert not feed.bozo, feed.bozo_exception
    (entry,) = feed.entries
    assert entry.title == "Elevated API errors - Investigating"
    assert "We are investigating." in entry.summary


def test_feeds_render_a_stored_public_title_with_control_characters(client, open_incident):
    PublicIncident.objects.filter(incident=open_incident).update(public_title="API\u0008 trouble")
    for url in FEEDS:
        feed = feedparser.parse(client.get(url).content)
        assert not feed.bozo, feed.bozo_exception
        assert feed.entries[0].title == "API trouble - Investigating"


def test_every_public_page_answers_with_stored_control_characters(client, open_incident):
    StatusUpdate.objects.filter(incident=open_incident).update(text="We are \u000binvestigating.")
    Component.objects.update(name="Public\u000b API", description="d\u0001")
    record = PublicIncident.objects.get(incident=open_incident)
    client.raise_request_exception = True
    for url in ["/status/", "/status/api/summary.json", f"/status/incidents/{record.public_id}/", *FEEDS]:
        assert client.get(url).status_code == 200, url


# --- new input: refused at the service, so every door refuses it ---------------------------
@pytest.mark.parametrize("text", BAD)
def test_api_refuses_a_status_update_with_a_control_character(api_as, manager, open_incident, text):
    before = StatusUpdate.objects.count()
    response = api_as(manager).post(
        f"/api/v1/incidents/{open_incident.pk}/updates/",
        {"audience": "external", "text": text},
        format="json",
    )
    assert response.status_code == 400, response.content
    (message,) = response.json()["text"]
    assert "control character" in message or message == "Null characters are not allowed."
    assert StatusUpdate.objects.count() == before


def test_api_names_the_character_and_its_position(api_as, manager, open_incident):
    response = api_as(manager).post(
        f"/api/v1/incidents/{open_incident.pk}/updates/",
        {"audience": "internal", "text": "a\u000bb"},
        format="json",
    )
    assert response.json() == {
        "text": ["The text contains a control character (U+000B) at position 2: remove it."]
    }


def test_api_refuses_titles_and_customer_message_with_control_characters(api_as, manager, open_incident):
    api = api_as(manager)
    url = f"/api/v1/incidents/{open_incident.pk}/"
    assert api.patch(url, {"title": "API\u000b errors"}, format="json").status_code == 400
    response = api.post(f"{url}customer-message/", {"text": "Sorry\u0007"}, format="json")
    assert response.status_code == 400
    assert "control character" in response.json()["text"][0]
    open_incident.refresh_from_db()
    assert open_incident.title == "Elevated API errors"
    assert open_incident.customer_message == "We are investigating."  # as published, unchanged


def test_api_refuses_declaring_with_a_control_character_in_the_title(api_as, manager, open_incident):
    response = api_as(manager).post(
        "/api/v1/incidents/",
        {"title": "Do\u000bwn", "severity": 2, "services": [open_incident.primary_service_id]},
        format="json",
    )
    assert response.status_code == 400
    assert "control character" in response.json()["title"][0]
    assert Incident.objects.count() == 1


def test_tabs_and_newlines_stay_allowed(api_as, manager, open_incident):
    response = api_as(manager).post(
        f"/api/v1/incidents/{open_incident.pk}/updates/",
        {"audience": "external", "text": "Line one\r\n\tline two"},
        format="json",
    )
    assert response.status_code == 201, response.content


def test_admin_post_update_form_refuses_control_characters(manager_client, open_incident):
    before = StatusUpdate.objects.count()
    response = manager_client.post(
        reverse("admin:incidents_incident_post_update", args=[open_incident.pk]),
        {"audience": "external", "text": "a\u000bb"},
        follow=True,
    )
    assert response.status_code == 200
    assert "control character (U+000B)" in response.content.decode()
    assert StatusUpdate.objects.count() == before


def test_admin_component_form_gives_a_field_error(manager_client):
    api = component(name="API")
    data = {
        "service": api.service_id, "name": "Public\u000b API", "description": "", "group": "Core\u0001",
        "order": 1, "public": "on", "override_status": "", "override_reason": "",
    }  # fmt: skip
    page = manager_client.post(f"/admin/status/component/{api.pk}/change/", data)
    assert page.status_code == 200
    errors = page.context["adminform"].form.errors
    assert "control character (U+000B)" in errors["name"][0]
    assert "control character (U+0001)" in errors["group"][0]
    api.refresh_from_db()
    assert api.name == "API"


def test_admin_maintenance_form_gives_a_field_error(manager_client):
    api = component(name="API")
    start = timezone.now() + timedelta(days=1)
    data = {
        "title": "DB up\u000bgrade", "description": "Short\u001b pause", "components": [api.pk],
        "starts_at_0": start.strftime("%Y-%m-%d"), "starts_at_1": "10:00",
        "ends_at_0": start.strftime("%Y-%m-%d"), "ends_at_1": "11:00",
    }  # fmt: skip
    page = manager_client.post("/admin/status/scheduledmaintenance/add/", data)
    assert page.status_code == 200
    errors = page.context["adminform"].form.errors
    assert set(errors) == {"title", "description"}
    assert not ScheduledMaintenance.objects.exists()


def test_admin_public_title_gives_a_field_error(manager_client, open_incident):
    record = PublicIncident.objects.get(incident=open_incident)
    page = manager_client.post(
        f"/admin/status/publicincident/{record.pk}/change/",
        {"incident": open_incident.pk, "public": "on", "public_title": "Trou\u000bble"},
    )
    assert page.status_code == 200
    assert "control character" in page.context["adminform"].form.errors["public_title"][0]


def test_admin_declare_form_gives_a_field_error(manager_client, open_incident):
    page = manager_client.post(
        "/admin/incidents/incident/add/",
        {"title": "Do\u000bwn", "severity": open_incident.severity_id,
         "services": [open_incident.primary_service_id], "summary": "", "detection_source": "manual"},
    )  # fmt: skip
    assert page.status_code == 200
    assert "control character" in page.context["adminform"].form.errors["title"][0]
    assert Incident.objects.count() == 1


@pytest.mark.parametrize("text", BAD)
def test_status_services_refuse_control_characters(manager, text):
    api = component(name="API")
    with pytest.raises(InvalidInput) as exc:
        services.save_component(actor=manager, service=api.service, name=text)
    assert exc.value.field == "name"
    for field in ("group", "description"):
        with pytest.raises(InvalidInput) as exc:
            services.save_component(actor=manager, service=api.service, name="API", **{field: text})
        assert exc.value.field == field
    start = timezone.now() + timedelta(days=1)
    for field in ("title", "description"):
        kwargs = {"title": "Upgrade", "description": "", field: text}
        with pytest.raises(InvalidInput) as exc:
            services.schedule_maintenance(
                actor=manager, starts_at=start, ends_at=start + timedelta(hours=1), components=[api], **kwargs
            )
        assert exc.value.field == field
    with pytest.raises(InvalidInput) as exc:
        services.set_override(component=api, actor=manager, status="major_outage", reason=text)
    assert exc.value.field == "override_reason"
    incident = declare(actor=manager, service=api.service)
    with pytest.raises(InvalidInput) as exc:
        services.set_incident_public(incident=incident, actor=manager, public=True, public_title=text)
    assert exc.value.field == "public_title"
    api.refresh_from_db()
    assert api.name == "API"
    assert not ScheduledMaintenance.objects.exists()


@pytest.mark.parametrize("text", BAD)
def test_incident_services_refuse_control_characters(manager, open_incident, text):
    for call, field in [
        (lambda: incidents.post_update(incident=open_incident, actor=manager, audience="external", text=text), "text"),
        (lambda: incidents.post_update(incident=open_incident, actor=manager, audience="internal", text=text), "text"),
        (lambda: incidents.set_customer_message(incident=open_incident, actor=manager, text=text), "text"),
        (lambda: incidents.update_incident(incident=open_incident, actor=manager, title=text), "title"),
        (lambda: declare(actor=manager, service=open_incident.primary_service, title=text), "title"),
    ]:  # fmt: skip
        with pytest.raises(InvalidInput) as exc:
            call()
        assert exc.value.field == field
        assert "control character" in exc.value.message


def test_an_incident_opened_from_an_escalation_gets_a_clean_derived_title(responder, support_user):
    from escalations import services as escalations
    from tests.escalations.factories import file, paged_service

    service = paged_service(name="Checkout")
    escalation = file(support_user, service=service, summary="Card\u0001 declined\nmore", dispatch=False)
    incident = escalations.open_incident(escalation=escalation, actor=responder, severity=3)
    assert incident.title == "Checkout: Card declined"
    # Another service: a filing on a service with an open incident joins that incident.
    other = file(support_user, service=paged_service(name="Billing"), summary="Again", dispatch=False)
    with pytest.raises(InvalidInput) as exc:  # a title a person typed is refused, not rewritten
        escalations.open_incident(escalation=other, actor=responder, severity=3, title="Typed\u0001")
    assert exc.value.field == "title"
