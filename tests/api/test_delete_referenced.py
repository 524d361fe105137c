"""Defect 15: deleting an object that others still reference answers 409 with what references
it (never a 500 from ProtectedError), and deletes nothing."""

import pytest

from catalog.models import Service, Team
from oncall.models import EscalationPolicy, ServicePolicy
from opsportal.db import REFERENCED_BY_LIMIT
from tests.factories import ServiceFactory, TeamFactory
from tests.incidents.factories import declare
from tests.oncall.factories import PolicyFactory

pytestmark = pytest.mark.django_db


def test_delete_team_that_owns_services_is_409_listing_them(api_as, superuser):
    team = TeamFactory(name="Payments")
    checkout = ServiceFactory(owner_team=team, name="checkout")
    ledger = ServiceFactory(owner_team=team, name="ledger")

    response = api_as(superuser).delete(f"/api/v1/teams/{team.pk}/")

    assert response.status_code == 409, response.content
    body = response.json()
    assert "Payments" in body["detail"]
    assert {"model": "service", "id": checkout.pk, "name": "checkout"} in body["referenced_by"]
    assert {"model": "service", "id": ledger.pk, "name": "ledger"} in body["referenced_by"]
    assert body["referenced_by_count"] == 2
    assert Team.objects.filter(pk=team.pk).exists()


def test_delete_service_named_by_an_incident_is_409(api_as, superuser, manager):
    service = ServiceFactory(name="checkout")
    incident = declare(actor=manager, service=service)

    response = api_as(superuser).delete(f"/api/v1/services/{service.pk}/")

    assert response.status_code == 409, response.content
    refs = response.json()["referenced_by"]
    assert {"model": "incident", "id": incident.pk, "name": str(incident)} in refs
    assert Service.objects.filter(pk=service.pk).exists()


def test_unreferenced_team_and_service_are_deleted(api_as, superuser):
    team = TeamFactory()
    service = ServiceFactory()
    api = api_as(superuser)
    assert api.delete(f"/api/v1/services/{service.pk}/").status_code == 204
    assert api.delete(f"/api/v1/teams/{team.pk}/").status_code == 204
    assert not Service.objects.filter(pk=service.pk).exists()
    assert not Team.objects.filter(pk=team.pk).exists()


def test_referenced_by_is_capped_but_counted(api_as, superuser):
    team = TeamFactory(name="Platform")
    for n in range(REFERENCED_BY_LIMIT + 5):
        ServiceFactory(owner_team=team, name=f"svc-{n:02d}")

    body = api_as(superuser).delete(f"/api/v1/teams/{team.pk}/").json()

    assert len(body["referenced_by"]) == REFERENCED_BY_LIMIT
    assert body["referenced_by_count"] == REFERENCED_BY_LIMIT + 5


def test_every_delete_maps_protected_error_to_409(api_as, superuser):
    """Not only the catalog: the exception handler maps ProtectedError for every DELETE
    (an escalation policy still chosen by a service)."""
    policy = PolicyFactory(name="Storefront escalation")
    service = ServiceFactory(name="storefront")
    ServicePolicy.objects.create(service=service, policy=policy)

    response = api_as(superuser).delete(f"/api/v1/escalation-policies/{policy.pk}/")

    assert response.status_code == 409, response.content
    body = response.json()
    assert body["referenced_by"] == [
        {"model": "servicepolicy", "id": service.escalation.pk, "name": str(service.escalation)}
    ]
    assert "Storefront escalation" in body["detail"]
    assert EscalationPolicy.objects.filter(pk=policy.pk).exists()


def test_delete_still_needs_the_permission(api_as, responder):
    team = TeamFactory()
    ServiceFactory(owner_team=team)
    assert api_as(responder).delete(f"/api/v1/teams/{team.pk}/").status_code == 403


def test_a_service_named_only_among_an_incidents_services_is_not_deleted(api_as, manager):
    """Incidents list their services many-to-many: deleting one used to drop it from their
    record silently. Now it is refused like a protected reference."""
    from incidents.models import Incident
    from tests.factories import ServiceFactory
    from tests.incidents.factories import declare

    primary, affected = ServiceFactory(name="checkout"), ServiceFactory(name="ledger")
    incident = declare(actor=manager, service=primary)
    incident.services.add(affected)
    response = api_as(manager).delete(f"/api/v1/services/{affected.pk}/")
    assert response.status_code == 409, response.content
    assert response.json()["referenced_by"][0]["model"] == "incident"
    assert set(Incident.objects.get(pk=incident.pk).services.values_list("name", flat=True)) == {
        "checkout",
        "ledger",
    }
