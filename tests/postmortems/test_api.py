from datetime import timedelta

import pytest
from django.utils import timezone

from incidents.models import Incident
from postmortems import services
from postmortems.models import REVIEW_CHECKLIST_KEYS, ActionItem, Postmortem
from tests.factories import TeamFactory
from tests.postmortems import factories as f

pytestmark = pytest.mark.django_db


def test_close_without_published_postmortem_is_refused_in_api(api_as, responder, manager, service):
    incident = f.resolved_incident(actor=responder, service=service, level=1)
    api = api_as(responder)
    response = api.post(f"/api/v1/incidents/{incident.pk}/close/", {})
    assert response.status_code == 409
    assert "a published postmortem is required for this severity" in response.json()["detail"]
    assert Incident.objects.get(pk=incident.pk).status == "resolved"
    f.published(f.postmortem(actor=responder, incident=incident), responder, manager)
    response = api.post(f"/api/v1/incidents/{incident.pk}/close/", {})
    assert response.status_code == 200
    assert response.json()["status"] == "closed"


def test_full_review_flow_over_api(api_as, responder, manager, service):
    incident = f.resolved_incident(actor=responder, service=service, level=2)
    author, reviewer = api_as(responder), api_as(manager)
    response = author.post("/api/v1/postmortems/", {"incident": incident.pk})
    assert response.status_code == 201, response.json()
    body = response.json()
    pm_id = body["id"]
    assert body["status"] == "draft"
    assert body["owner"] == responder.pk
    assert body["reviewer"] == manager.pk
    assert "Declared" in body["timeline"]
    assert body["progress"] is None
    assert author.post("/api/v1/postmortems/", {"incident": incident.pk}).status_code == 409

    assert author.post(f"/api/v1/postmortems/{pm_id}/submit/", {}).status_code == 400  # sections missing
    response = author.patch(
        f"/api/v1/postmortems/{pm_id}/",
        {"summary": "Billing down.", "root_cause": "Pool exhaustion.", "resolution": "Rolled back."},
    )
    assert response.status_code == 200
    assert response.json()["root_cause"] == "Pool exhaustion."
    assert author.post(f"/api/v1/postmortems/{pm_id}/publish/", {}).status_code == 409
    assert author.post(f"/api/v1/postmortems/{pm_id}/submit/", {}).status_code == 200
    response = author.post(
        f"/api/v1/postmortems/{pm_id}/approve/", {"checklist": list(REVIEW_CHECKLIST_KEYS)}
    )
    assert response.status_code == 403  # the author cannot approve their own
    response = reviewer.post(f"/api/v1/postmortems/{pm_id}/approve/", {"checklist": ["key_data"]})
    assert response.status_code == 400
    assert "checklist" in response.json()
    response = reviewer.post(f"/api/v1/postmortems/{pm_id}/approve/", {"checklist": ["bogus"]})
    assert response.status_code == 400
    assert (
        reviewer.post(
            f"/api/v1/postmortems/{pm_id}/approve/", {"checklist": list(REVIEW_CHECKLIST_KEYS)}
        ).status_code
        == 200
    )
    response = reviewer.post(f"/api/v1/postmortems/{pm_id}/publish/", {})
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "published"
    assert body["published_by"] == manager.pk
    assert body["published_at"]
    assert author.patch(f"/api/v1/postmortems/{pm_id}/", {"summary": "x"}).status_code == 409
    md = author.get(f"/api/v1/postmortems/{pm_id}/markdown/")
    assert md.status_code == 200
    assert md["Content-Type"].startswith("text/markdown")


def test_start_open_incident_is_409_and_bad_input_400(api_as, responder, service):
    api = api_as(responder)
    assert api.post("/api/v1/postmortems/", {"incident": 999999}).status_code == 400
    assert api.post("/api/v1/postmortems/", {}).status_code == 400
    incident = f.resolved_incident(actor=responder, service=service)
    from incidents import services as incident_services

    incident_services.reopen(incident=incident, actor=responder)
    assert api.post("/api/v1/postmortems/", {"incident": incident.pk}).status_code == 409


def test_permissions(api_as, responder, support_user, outsider, release_lead, service):
    pm = f.postmortem(actor=responder, incident=f.resolved_incident(actor=responder, service=service))
    item = f.item(pm, responder)
    for user in (support_user, outsider):
        api = api_as(user)
        assert api.get("/api/v1/postmortems/").status_code == 403
        assert api.get("/api/v1/action-items/").status_code == 403
    lead = api_as(release_lead)
    assert lead.get("/api/v1/postmortems/").status_code == 200
    assert lead.get("/api/v1/action-items/").status_code == 200
    assert lead.post(f"/api/v1/action-items/{item.pk}/status/", {"status": "done"}).status_code == 403
    assert lead.patch(f"/api/v1/postmortems/{pm.pk}/", {"summary": "x"}).status_code == 403
    from rest_framework.test import APIClient

    assert APIClient().get("/api/v1/action-items/").status_code == 401


def test_action_item_create_status_and_filters(api_as, responder, manager, service):
    pm = f.postmortem(actor=responder, incident=f.resolved_incident(actor=responder, service=service))
    api = api_as(responder)
    today = services.local_today()
    response = api.post(
        "/api/v1/action-items/",
        {
            "postmortem": pm.pk, "title": "Alert on pool saturation", "owner": manager.pk, "kind": "detect",
            "priority": "p1", "due_date": (today - timedelta(days=1)).isoformat(),
            "tracker_url": "https://linear.app/acme/issue/OPS-1",
        },
    )  # fmt: skip
    assert response.status_code == 201, response.json()
    item = response.json()
    assert item["overdue"] is True
    assert item["team"] == pm.team_id
    assert item["incident_reference"] == pm.incident.reference
    other_team = TeamFactory()
    f.item(pm, responder, owner=responder, title="later", due_date=today + timedelta(days=9), team=other_team)

    def ids(**params):
        r = api.get("/api/v1/action-items/", params)
        assert r.status_code == 200
        return {row["title"] for row in r.json()["results"]}

    assert ids(owner=manager.pk) == {"Alert on pool saturation"}
    assert ids(team=other_team.pk) == {"later"}
    assert ids(team_slug=other_team.slug) == {"later"}
    assert ids(overdue="true") == {"Alert on pool saturation"}
    assert ids(overdue="false") == {"later"}
    assert ids(status="open") == {"Alert on pool saturation", "later"}

    url = f"/api/v1/action-items/{item['id']}/status/"
    response = api.post(url, {"status": "wont_do"})
    assert response.status_code == 400
    assert "reason" in response.json()
    assert api.post(url, {"status": "finished"}).status_code == 400
    response = api.post(url, {"status": "done"})
    assert response.status_code == 200
    assert response.json()["completed_at"]
    assert response.json()["overdue"] is False
    assert ids(status="done") == {"Alert on pool saturation"}
    response = api.patch(f"/api/v1/action-items/{item['id']}/", {"priority": "p2", "owner": responder.pk})
    assert response.status_code == 200
    assert response.json()["owner"] == responder.pk
    assert api.patch(f"/api/v1/action-items/{item['id']}/", {"status": "open"}).json().get("status") == "done"
    assert ActionItem.objects.get(pk=item["id"]).history.count() >= 3


def test_postmortem_filters(api_as, responder, manager, service):
    late = f.postmortem(actor=responder, incident=f.resolved_incident(actor=responder, service=service))
    Postmortem.objects.filter(pk=late.pk).update(due_at=timezone.now() - timedelta(days=1))
    fine = f.postmortem(actor=manager, incident=f.resolved_incident(actor=manager, service=service))
    api = api_as(manager)

    def ids(**params):
        r = api.get("/api/v1/postmortems/", params)
        assert r.status_code == 200
        return {row["id"] for row in r.json()["results"]}

    assert ids(overdue="true") == {late.pk}
    assert ids(overdue="false") == {fine.pk}
    assert ids(owner=manager.pk) == {fine.pk}
    assert ids(status="draft") == {late.pk, fine.pk}
    assert ids(team=service.owner_team_id) == {late.pk, fine.pk}


@pytest.mark.parametrize("rows", [1, 30])
def test_list_endpoints_constant_queries(api_as, responder, django_assert_num_queries, rows, service):
    for _ in range(rows):
        pm = f.postmortem(actor=responder, incident=f.resolved_incident(actor=responder, service=service))
        f.item(pm, responder)
    api = api_as(responder)
    # user permissions, group permissions, COUNT, page rows (joins and progress subqueries)
    with django_assert_num_queries(4):
        assert api.get("/api/v1/postmortems/").status_code == 200
    # the same user object: its permissions are cached now; COUNT, page rows
    with django_assert_num_queries(2):
        assert api.get("/api/v1/action-items/").status_code == 200
