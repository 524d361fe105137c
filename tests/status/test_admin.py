"""Admin: component changelist with derived status (constant queries), override through the
form recorded in history, marking an incident not public."""

import pytest

from status.models import Component, PublicIncident
from tests.incidents.factories import declare
from tests.status.factories import component

pytestmark = pytest.mark.django_db

URL = "/admin/status/component/"


def test_changelist_constant_queries(manager_client, manager):
    # Same queries for 1 and 11 components: session, user, permissions, count, page, one
    # open-incidents query with its prefetches, one maintenance query.
    api = component(name="API")
    declare(actor=manager, level=2, service=api.service)
    manager_client.get(URL)  # warm permission caches
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as one:
        page = manager_client.get(URL)
    assert "Partial outage" in page.content.decode()
    for n in range(10):
        declare(actor=manager, level=3, service=component(name=f"C{n}", order=n + 2).service, title=f"I{n}")
    with CaptureQueriesContext(connection) as many:
        assert manager_client.get(URL).status_code == 200
    assert len(many) == len(one)


def test_override_through_admin_form_is_recorded(manager_client, manager):
    api = component(name="API")
    data = {
        "service": api.service_id, "name": "Public API", "description": "", "group": "Core", "order": 1,
        "public": "on", "override_status": "major_outage", "override_reason": "",
    }  # fmt: skip
    page = manager_client.post(f"{URL}{api.pk}/change/", data)
    assert page.status_code == 200
    assert "Say why" in page.content.decode()
    data["override_reason"] = "Provider outage"
    assert manager_client.post(f"{URL}{api.pk}/change/", data).status_code == 302
    api.refresh_from_db()
    assert (api.name, api.override_status, api.override_by) == ("Public API", "major_outage", manager)
    latest = api.history.first()
    assert latest.history_user == manager
    assert "Provider outage" in latest.history_change_reason


def test_manager_marks_incident_not_public_with_action(
    manager_client, manager, django_capture_on_commit_callbacks
):
    api = component(name="API")
    with django_capture_on_commit_callbacks(execute=True):
        incident = declare(actor=manager, level=2, service=api.service)
    record = PublicIncident.objects.get(incident=incident)
    response = manager_client.post(
        "/admin/status/publicincident/", {"action": "make_not_public", "_selected_action": [record.pk]}
    )
    assert response.status_code == 302
    record.refresh_from_db()
    assert record.public is False
    assert record.changed_by == manager
    assert Component.objects.count() == 1
