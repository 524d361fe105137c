"""The support form helps before it files: required fields marked, the chosen service's open
incident offered, a second filing for the same customer and service confirmed first."""

from __future__ import annotations

import json
import re

import pytest

from escalations import services
from escalations.models import Escalation
from tests.escalations.factories import file, paged_service
from tests.escalations.test_form import URL, valid
from tests.incidents.factories import declare

pytestmark = pytest.mark.django_db


@pytest.fixture
def service(db):
    return paged_service(name="Checkout")


def test_required_fields_are_marked_for_eyes_and_screen_readers(client, support_user, service):
    client.force_login(support_user)
    body = client.get(URL).content.decode()
    assert 'id="required-legend"' in body
    for label in ("Customer or account", "Contact", "What the customer sees"):
        assert re.search(
            label + r'\s*<span aria-hidden="true" class="req">\*</span><span class="sr-only"> \(required\)',
            body,
        )
    assert not re.search(r'Links\s*<span aria-hidden="true" class="req">', body)


def test_open_incidents_are_given_to_the_page_by_service(client, support_user, manager, service):
    incident = declare(actor=manager, service=service, title="Checkout errors")
    incident.customer_message = ""
    client.force_login(support_user)
    body = client.get(URL).content.decode()
    data = json.loads(
        re.search(r'<script id="incidents-by-service" type="application/json">(.*?)</script>', body).group(1)
    )
    assert data == [
        {"id": incident.pk, "reference": incident.reference, "title": "Checkout errors", "status": "Investigating",
         "message": "", "services": [service.pk]}
    ]  # fmt: skip
    assert 'id="service-incident"' in body


def test_a_second_filing_for_the_same_customer_and_service_asks_first(client, support_user, service):
    client.force_login(support_user)
    first = file(support_user, service=service, customer="ACME-corp")
    response = client.post(URL, valid(service))  # "acme-corp": same customer, any case
    assert response.status_code == 200
    body = response.content.decode()
    assert f"{first.reference} was filed for ACME-corp on Checkout" in body
    assert 'name="confirm_duplicate"' in body
    assert Escalation.objects.count() == 1
    confirmed = client.post(URL, {**valid(service), "confirm_duplicate": "on"})
    assert confirmed.status_code == 302
    assert Escalation.objects.count() == 2
    # another customer, or another service, is not asked
    assert client.post(URL, valid(service, customer="globex")).status_code == 302
    other = paged_service(name="Search", team_name="Search team")
    assert client.post(URL, valid(other)).status_code == 302


def test_the_window_is_configurable_and_zero_turns_it_off(client, support_user, manager, service):
    services.update_settings(actor=manager, duplicate_window_minutes=0)
    client.force_login(support_user)
    file(support_user, service=service)
    assert client.post(URL, valid(service)).status_code == 302
    from opsportal.errors import InvalidInput

    with pytest.raises(InvalidInput):
        services.update_settings(actor=manager, duplicate_window_minutes=7 * 24 * 60 + 1)


def test_attaching_to_an_open_incident_is_never_asked(client, support_user, manager, service):
    incident = declare(actor=manager, service=service)
    client.force_login(support_user)
    file(support_user, service=service)
    response = client.post(URL, valid(service, incident=str(incident.pk)))
    assert response.status_code == 302
