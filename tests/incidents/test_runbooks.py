import pytest
from django.urls import reverse

from incidents import selectors, services
from opsportal.errors import NotAllowed
from tests.incidents.factories import declare
from tests.runbooks.factories import RunbookFactory

pytestmark = pytest.mark.django_db


def test_link_and_unlink_runbook_write_timeline_events(responder, support_user):
    incident = declare(actor=responder)
    runbook = RunbookFactory(title="Fail over the database")
    assert services.link_runbook(incident=incident, runbook=runbook, actor=responder) is True
    assert services.link_runbook(incident=incident, runbook=runbook, actor=responder) is False  # already
    assert list(incident.runbooks.all()) == [runbook]
    event = selectors.timeline(incident).get(kind="runbook")
    assert event.text == "Runbook used: Fail over the database."
    assert event.related_id == runbook.pk
    with pytest.raises(NotAllowed):
        services.link_runbook(incident=incident, runbook=runbook, actor=support_user)
    assert services.unlink_runbook(incident=incident, runbook=runbook, actor=responder) is True
    assert not incident.runbooks.exists()
    assert selectors.timeline(incident).filter(kind="runbook").count() == 2


def test_api_links_runbooks(api_as, responder):
    incident = declare(actor=responder)
    runbook = RunbookFactory()
    api = api_as(responder)
    r = api.post(f"/api/v1/incidents/{incident.pk}/runbooks/", {"runbook": runbook.pk})
    assert r.status_code == 200
    assert r.data["runbooks"] == [runbook.pk]
    r = api.post(f"/api/v1/incidents/{incident.pk}/runbooks/", {"runbook": runbook.pk, "unlink": True})
    assert r.data["runbooks"] == []
    assert api.post(f"/api/v1/incidents/{incident.pk}/runbooks/", {"runbook": 999999}).status_code == 400


def test_change_page_suggests_runbooks_for_the_services(manager_client, manager):
    incident = declare(actor=manager)
    RunbookFactory(title="Restart the billing workers", services=[incident.primary_service])
    body = manager_client.get(reverse("admin:incidents_incident_change", args=[incident.pk])).content.decode()
    assert "Restart the billing workers" in body
