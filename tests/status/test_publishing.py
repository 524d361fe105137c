"""Nothing reaches the public status page until a person publishes it: a public title and a
message for customers. Before that, the incident's title, updates and impact on component
status are not public anywhere (page, JSON, feeds, history, subscriber mail)."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from incidents import services as incidents
from notifications.models import Notification
from opsportal.errors import Conflict, InvalidInput, NotAllowed
from probes.models import Probe
from status import selectors, services
from status.models import ComponentStatus, PublicIncident, Subscriber
from tests.incidents.factories import declare
from tests.probes.factories import ProbeFactory
from tests.status.factories import component

pytestmark = pytest.mark.django_db

PUBLIC_URLS = [
    "/status/",
    "/status/api/summary.json",
    "/status/feed.atom",
    "/status/feed.rss",
    "/status/history/",
]


def everything_public(client) -> str:
    return "\n".join(client.get(url).content.decode() for url in PUBLIC_URLS)


def test_an_undeclared_for_customers_incident_shows_nothing(
    client, manager, django_capture_on_commit_callbacks
):
    api = component(name="API")
    Subscriber.objects.create(
        email="sub@example.com", state=Subscriber.State.CONFIRMED, confirmed_at=timezone.now()
    )
    with django_capture_on_commit_callbacks(execute=True):
        incident = declare(actor=manager, level=1, service=api.service, title="INTERNAL-TITLE-5150")
        # a customer message and even an external update, but nobody wrote a public title
        incidents.post_update(
            incident=incident, actor=manager, audience="external", text="EXTERNAL-TEXT-5150",
            replace_customer_message=True,
        )  # fmt: skip
    text = everything_public(client)
    assert "INTERNAL-TITLE-5150" not in text
    assert "EXTERNAL-TEXT-5150" not in text
    snap = selectors.snapshot()
    assert snap["incidents"] == []
    assert snap["components"][0]["status"] == ComponentStatus.OPERATIONAL  # no impact shown either
    assert not Notification.objects.filter(address="sub@example.com").exists()
    record = PublicIncident.objects.get(incident=incident)
    assert client.get(reverse("status:incident", args=[record.public_id])).status_code == 404


def test_a_public_title_without_a_message_is_not_enough(client, manager, django_capture_on_commit_callbacks):
    api = component(name="API")
    incident = declare(actor=manager, level=2, service=api.service, title="INTERNAL-7")
    services.set_incident_public(
        incident=incident, actor=manager, public=True, public_title="Checkout errors"
    )
    assert "Checkout errors" not in everything_public(client)
    with django_capture_on_commit_callbacks(execute=True):  # the public cache is invalidated on commit
        incidents.set_customer_message(incident=incident, actor=manager, text="Some payments fail.")
    page = client.get("/status/").content.decode()
    assert "Checkout errors" in page
    assert "Some payments fail." in page
    assert "INTERNAL-7" not in page
    assert "Partial outage" in page


def test_publish_incident_needs_a_person_a_title_and_a_message(manager, responder):
    api = component(name="API")
    incident = declare(actor=manager, level=2, service=api.service)
    with pytest.raises(NotAllowed):
        services.publish_incident(incident=incident, actor=responder, public_title="t", message="m")
    with pytest.raises(InvalidInput) as title:
        services.publish_incident(incident=incident, actor=manager, public_title="  ", message="m")
    assert title.value.field == "public_title"
    with pytest.raises(InvalidInput) as message:
        services.publish_incident(incident=incident, actor=manager, public_title="t", message="")
    assert message.value.field == "message"
    with pytest.raises(InvalidInput):
        services.publish_incident(incident=incident, actor=manager, public_title="x" * 201, message="m")
    assert not selectors.public_incidents().exists()
    drill = declare(actor=manager, level=2, service=api.service, drill=True)
    with pytest.raises(Conflict):
        services.publish_incident(incident=drill, actor=manager, public_title="t", message="m")
    services.publish_incident(
        incident=incident, actor=manager, public_title="API errors", message="We are on it."
    )
    assert list(selectors.public_incidents()) == [incident]
    incident.refresh_from_db()
    assert incident.customer_message == "We are on it."


def test_publish_from_the_room(client, manager, responder):
    api = component(name="API")
    incident = declare(actor=manager, level=2, service=api.service, title="INTERNAL-TITLE")
    room = reverse("admin:incidents_incident_change", args=[incident.pk])
    url = reverse("admin:status_publicincident_publish", args=[incident.pk])
    client.force_login(responder)
    body = client.get(room).content.decode()
    assert "Not public" in body
    assert 'id="publish-form"' not in body  # managers publish
    assert client.post(url, {"public_title": "API errors", "message": "We are on it."}).status_code == 302
    assert not selectors.public_incidents().exists()  # refused by the service, as a message
    client.force_login(manager)
    assert 'id="publish-form"' in client.get(room).content.decode()
    assert client.get(url).status_code == 403
    assert client.post(url, {"public_title": "", "message": ""}).status_code == 302
    assert not selectors.public_incidents().exists()
    client.post(url, {"public_title": "API errors", "message": "We are on it."})
    assert selectors.public_incidents().get() == incident
    assert "as “API errors”" in client.get(room).content.decode()
    assert client.post(reverse("admin:status_publicincident_publish", args=[999999]), {}).status_code == 404


def test_an_update_that_is_also_the_customer_message_is_shown_once(client, manager):
    api = component(name="API")
    incident = declare(actor=manager, level=2, service=api.service)
    services.publish_incident(
        incident=incident, actor=manager, public_title="API errors", message="First words."
    )
    incidents.post_update(
        incident=incident, actor=manager, audience="external", text="ONCE-ONLY-2718",
        replace_customer_message=True,
    )  # fmt: skip
    page = client.get("/status/").content.decode()
    assert page.count("ONCE-ONLY-2718") == 1
    detail = client.get(
        reverse("status:incident", args=[PublicIncident.objects.get(incident=incident).public_id])
    ).content.decode()
    assert detail.count("ONCE-ONLY-2718") == 1


def test_a_component_without_data_says_no_data(client):
    component(name="Quiet", order=1)
    probed = component(name="Probed", order=2)
    probe = ProbeFactory(service=probed.service)
    probe.results.create(checked_at=timezone.now(), outcome="up", ok=True)
    rows = {c["name"]: c for c in selectors.snapshot()["components"]}
    assert rows["Quiet"]["status_display"] == "No data"
    assert rows["Quiet"]["status"] == ComponentStatus.OPERATIONAL  # the JSON vocabulary is unchanged
    assert rows["Probed"]["status_display"] == "Operational"
    page = client.get("/status/").content.decode()
    assert "No data" in page
    assert probe.state in Probe.State.values
