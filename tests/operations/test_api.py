"""/api/v1/responsibilities/ and /api/v1/check-ins/."""

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine

from operations.models import CheckIn, Responsibility
from tests.factories import TeamFactory, UserFactory
from tests.operations.factories import ResponsibilityFactory

URL = "/api/v1/responsibilities/"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
FRI = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


@pytest.fixture
def duty(db):
    with time_machine.travel(NOW, tick=False):
        return ResponsibilityFactory(title="Incident triage")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("actor", "status"),
    [("manager", 200), ("responder", 200), ("release_lead", 200), ("support_user", 403), ("outsider", 403)],
)
def test_who_may_list(api_as, request, duty, actor, status):
    assert api_as(request.getfixturevalue(actor)).get(URL).status_code == status


@pytest.mark.django_db
def test_anonymous_gets_401(api_client, duty):
    assert api_client.get(URL).status_code == 401


@pytest.mark.django_db
def test_list_shows_health_and_last_done_and_filters(api_as, manager, duty):
    api = api_as(manager)
    with time_machine.travel(FRI + timedelta(hours=1), tick=False):
        row = api.get(URL).json()["results"][0]
        assert (row["title"], row["health"], row["last_done_at"]) == ("Incident triage", "overdue", None)
        assert row["cadence_display"] == "Weekly on Friday at 09:00 (UTC)"
        assert api.get(URL, {"health": "overdue"}).json()["count"] == 1
        assert api.get(URL, {"health": "on_track"}).json()["count"] == 0
        assert api.get(URL, {"team": duty.team.slug}).json()["count"] == 1
        assert api.get(URL, {"owner": duty.backup.pk}).json()["count"] == 0
        assert api.get(URL, {"health": "bogus"}).status_code == 400


@pytest.mark.django_db
def test_list_query_count_is_constant(api_as, manager, duty, django_assert_num_queries):
    api = api_as(manager)
    api.get(URL)  # loads and caches the user's permissions
    # COUNT(*); the page (team/owner/backup joined, last check-in as subqueries); services prefetch
    with django_assert_num_queries(3):
        assert api.get(URL).json()["count"] == 1
    for _ in range(5):
        ResponsibilityFactory(services=[])
    with django_assert_num_queries(3):
        assert api.get(URL).json()["count"] == 6


@pytest.mark.django_db
def test_check_in_action(api_as, duty, responder):
    owner_api = api_as(duty.owner)
    owner_api.force_authenticate(duty.owner)
    duty.owner.groups.add(*responder.groups.all())  # owners are responders: they can read the register
    with time_machine.travel(FRI - timedelta(hours=2), tick=False):
        response = owner_api.post(f"{URL}{duty.pk}/check-in/", {"note": "4 alerts triaged"})
        assert response.status_code == 201, response.json()
        assert response.json()["covers_due_at"] == "2026-11-27T09:00:00Z"
        assert response.json()["via"] == "api"
        second = owner_api.post(f"{URL}{duty.pk}/check-in/", {})
        assert second.status_code == 409
        assert "already done" in second.json()["detail"]
        bad = owner_api.post(f"{URL}{duty.pk}/check-in/", {"evidence_url": "not a url"})
        assert bad.status_code == 400
        assert "evidence_url" in bad.json()
        future = owner_api.post(f"{URL}{duty.pk}/check-in/", {"done_at": "2030-01-01T00:00:00Z"})
        assert future.status_code == 400
        assert "done_at" in future.json()
    assert CheckIn.objects.count() == 1
    cycles = owner_api.get(f"{URL}{duty.pk}/cycles/").json()
    assert cycles[0]["status"] == "upcoming"


@pytest.mark.django_db
def test_check_in_refused_for_a_responder_who_is_not_owner_or_backup(api_as, duty, responder, support_user):
    assert api_as(responder).post(f"{URL}{duty.pk}/check-in/", {}).status_code == 403
    assert api_as(support_user).post(f"{URL}{duty.pk}/check-in/", {}).status_code == 403
    assert CheckIn.objects.count() == 0


@pytest.mark.django_db
def test_reassign_action(api_as, manager, responder, duty):
    newcomer = UserFactory()
    assert api_as(responder).post(f"{URL}{duty.pk}/reassign/", {"owner": newcomer.pk}).status_code == 403
    response = api_as(manager).post(f"{URL}{duty.pk}/reassign/", {"owner": newcomer.pk})
    assert response.status_code == 200
    assert response.json()["owner"] == newcomer.pk
    same = api_as(manager).post(f"{URL}{duty.pk}/reassign/", {"owner": newcomer.pk, "backup": newcomer.pk})
    assert same.status_code == 400
    assert "backup" in same.json()


@pytest.mark.django_db
def test_create_and_edit_through_the_service(api_as, manager, responder):
    team = TeamFactory()
    body = {
        "title": "Backlog hygiene", "team": team.pk, "area": "other", "area_other": "Grooming",
        "definition_of_done": "Old tickets closed", "cadence": "monthly", "first_due_on": "2027-01-31",
        "due_time": "10:00", "time_zone": "Europe/Berlin",
    }  # fmt: skip
    assert api_as(responder).post(URL, body).status_code == 403
    created = api_as(manager).post(URL, body)
    assert created.status_code == 201, created.json()
    assert created.json()["next_due_at"] == "2027-01-31T09:00:00Z"
    assert created.json()["area_label"] == "Grooming"
    pk = created.json()["id"]
    bad = api_as(manager).patch(f"{URL}{pk}/", {"cadence": "cron", "cron_expression": "nonsense"})
    assert bad.status_code == 400
    assert "cron_expression" in bad.json()
    moved = api_as(manager).patch(f"{URL}{pk}/", {"first_due_on": "2027-02-28"})
    assert moved.json()["next_due_at"] == "2027-02-28T09:00:00Z"
    assert Responsibility.objects.get(pk=pk).first_due_on == date(2027, 2, 28)


@pytest.mark.django_db
def test_check_ins_endpoint(api_as, manager, duty):
    with time_machine.travel(NOW, tick=False):
        api_as(manager).post(f"{URL}{duty.pk}/check-in/", {})
    rows = api_as(manager).get("/api/v1/check-ins/", {"responsibility": duty.pk}).json()["results"]
    assert [r["done_by"] for r in rows] == [manager.pk]
    assert api_as(manager).post("/api/v1/check-ins/", {}).status_code == 405
