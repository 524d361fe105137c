"""/api/v1/schedules/, shifts, fairness, gaps, /api/v1/oncall/, /api/v1/pages/ + acknowledge,
/api/v1/escalation-policies/, /api/v1/schedule-overrides/: permissions for every actor, errors
in DRF's shape, constant query counts."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from oncall import services
from oncall.models import Page, Schedule
from tests.factories import ServiceFactory, TeamFactory, UserFactory
from tests.oncall.factories import LayerFactory, PolicyFactory, ScheduleFactory, level

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)


@pytest.fixture
def world(db):
    team = TeamFactory()
    ann, ben = UserFactory(username="ann"), UserFactory(username="ben")
    schedule = ScheduleFactory(team=team, name="Primary", time_zone="Australia/Sydney")
    LayerFactory(schedule=schedule, people=[ann, ben])
    policy = PolicyFactory(team=team, is_team_default=True)
    level(policy, 1, schedules=[schedule])
    service = ServiceFactory(owner_team=team)
    return {"team": team, "ann": ann, "ben": ben, "schedule": schedule, "policy": policy, "service": service}


def test_create_schedule_with_layers_and_read_shifts(world, api_as, manager):
    api = api_as(manager)
    body = {
        "team": world["team"].pk, "name": "Follow the sun", "time_zone": "Asia/Kolkata",
        "layers": [
            {"name": "Business hours", "rotation_length": 1, "rotation_unit": "days", "start_date": "2026-03-02",
             "handoff_time": "09:00", "participants": [world["ann"].pk, world["ben"].pk],
             "restrictions": [{"weekdays": [0, 1, 2, 3, 4], "start_time": "09:00", "end_time": "17:00"}]},
        ],
    }  # fmt: skip
    response = api.post("/api/v1/schedules/", body, format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["layers"][0]["participants"] == [world["ann"].pk, world["ben"].pk]
    assert data["layers"][0]["restrictions"][0]["weekdays"] == [0, 1, 2, 3, 4]
    shifts = api.get(
        f"/api/v1/schedules/{data['id']}/shifts/",
        {"start": "2026-03-02T00:00:00Z", "end": "2026-03-09T00:00:00Z"},
    ).json()
    assert [s["user_name"] for s in shifts] == [str(world["ann"]), str(world["ben"])] * 2 + [
        str(world["ann"])
    ]
    assert shifts[0]["start"] == "2026-03-02T03:30:00Z"  # 09:00 IST
    gaps = api.get(f"/api/v1/schedules/{data['id']}/gaps/", {"start": "2026-03-02T00:00:00Z"}).json()
    assert gaps[0] == {"start": "2026-03-02T00:00:00Z", "end": "2026-03-02T03:30:00Z"}
    fair = api.get(
        f"/api/v1/schedules/{data['id']}/fairness/",
        {"start": "2026-03-02T00:00:00Z", "end": "2026-03-09T00:00:00Z"},
    ).json()
    assert {r["user_name"]: r["hours"] for r in fair} == {str(world["ann"]): 24.0, str(world["ben"]): 16.0}


@pytest.mark.parametrize(
    "params",
    [{"start": "yesterday"}, {"start": "2026-03-02T00:00:00"}, {"start": "2026-03-02T00:00:00Z", "end": "2026-03-01T00:00:00Z"},
     {"start": "2026-01-01T00:00:00Z", "end": "2028-01-01T00:00:00Z"}],
)  # fmt: skip
def test_shift_window_errors_are_400(world, api_as, manager, params):
    response = api_as(manager).get(f"/api/v1/schedules/{world['schedule'].pk}/shifts/", params)
    assert response.status_code == 400


def test_schedule_permissions_for_every_actor(
    world, api_as, manager, responder, support_user, release_lead, outsider, superuser
):
    url = "/api/v1/schedules/"
    body = {"team": world["team"].pk, "name": "New", "time_zone": "UTC"}
    for user, read, write in [
        (manager, 200, 201), (superuser, 200, 201), (responder, 200, 403), (release_lead, 200, 403),
        (support_user, 403, 403), (outsider, 403, 403),
    ]:  # fmt: skip
        api = api_as(user)
        assert api.get(url).status_code == read, user
        body["name"] = f"New {user.username}"
        assert api.post(url, body, format="json").status_code == write, user
    assert Schedule.objects.filter(name__startswith="New").count() == 2


def test_schedule_list_constant_queries(world, api_as, manager, django_assert_num_queries):
    api = api_as(manager)
    api.get("/api/v1/schedules/")  # warm permission caches

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert api.get("/api/v1/schedules/").status_code == 200
        return len(ctx.captured_queries)

    # count, schedules+team, layers, members, restrictions (+ session/auth lookups)
    one = count()
    for _ in range(5):
        s = ScheduleFactory(team=world["team"])
        LayerFactory(schedule=s, people=[world["ann"], world["ben"]])
    with django_assert_num_queries(one):
        assert len(api.get("/api/v1/schedules/").json()["results"]) == 6


def test_oncall_endpoint_by_schedule_team_and_service(world, api_as, manager):
    api = api_as(manager)
    at = "2026-01-06T12:00:00Z"  # ann's first week
    by_schedule = api.get("/api/v1/oncall/", {"schedule": world["schedule"].pk, "at": at}).json()
    assert by_schedule["schedules"][0]["user"]["username"] == "ann"
    assert by_schedule["schedules"][0]["next_user"]["username"] == "ben"
    by_team = api.get("/api/v1/oncall/", {"team": world["team"].pk, "at": at}).json()
    assert [s["schedule_name"] for s in by_team["schedules"]] == ["Primary"]
    by_service = api.get("/api/v1/oncall/", {"service": world["service"].pk, "at": at}).json()
    assert by_service["policy"] == world["policy"].pk
    assert by_service["levels"][0]["users"][0]["username"] == "ann"
    for bad in [
        {},
        {"team": "x"},
        {"team": 1, "schedule": 1},
        {"service": 999999},
        {"schedule": 1, "at": "soon"},
    ]:
        assert api.get("/api/v1/oncall/", bad).status_code == 400, bad


@pytest.mark.parametrize("kind", ["service", "team", "schedule"])
@pytest.mark.parametrize("raw", ["\u00b2", "1\u00b2", "\u0661", "9" * 30, "-1", "0"])
def test_oncall_endpoint_refuses_ids_that_are_not_ascii_digits(world, api_as, manager, kind, raw):
    """``"²".isdigit()`` is true and ``int("²")`` raises: that was a 500. Digits of other
    scripts (``int("\\u0661") == 1``) and ids beyond bigint are refused the same way."""
    api = api_as(manager)
    api.raise_request_exception = True
    response = api.get("/api/v1/oncall/", {kind: raw})
    assert response.status_code == 400, response.content
    assert response.json() == {kind: [f"{kind} must be an id."]}


def test_pages_open_list_acknowledge_conflict(
    world, api_as, manager, responder, outsider, django_assert_num_queries
):
    api = api_as(manager)
    created = api.post(
        "/api/v1/pages/",
        {"title": "Checkout down", "service": world["service"].pk, "dedup_key": "api-1"},
        format="json",
    )
    assert created.status_code == 201, created.json()
    pk = created.json()["id"]
    assert created.json()["status"] == "triggered"
    assert api_as(outsider).post(f"/api/v1/pages/{pk}/acknowledge/").status_code == 403
    first = api_as(responder).post(f"/api/v1/pages/{pk}/acknowledge/")
    assert first.status_code == 200
    assert first.json()["acknowledged_by"] == responder.pk
    second = api.post(f"/api/v1/pages/{pk}/acknowledge/")
    assert second.status_code == 409
    assert "Already acknowledged by" in second.json()["detail"]
    resolved = api.post(f"/api/v1/pages/{pk}/resolve/", {"reason": "rolled back"}, format="json")
    assert resolved.json()["status"] == "resolved"
    assert api.post(f"/api/v1/pages/{pk}/resolve/").status_code == 409

    with CaptureQueriesContext(connection) as one:  # count + pages with acknowledged_by joined
        api.get("/api/v1/pages/")
    for i in range(4):
        services.open_page(title=f"p{i}", summary="", url="", policy=world["policy"], dedup_key=f"bulk-{i}")
    with django_assert_num_queries(len(one.captured_queries)):
        assert len(api.get("/api/v1/pages/").json()["results"]) == 5
    assert Page.objects.count() == 5


def test_policy_crud_with_levels(world, api_as, manager, responder):
    body = {
        "team": world["team"].pk, "name": "Escalate hard", "repeat": 2, "is_team_default": True,
        "levels": [{"delay_minutes": 5, "schedules": [world["schedule"].pk]}, {"delay_minutes": 10, "users": [world["ben"].pk]}],
    }  # fmt: skip
    assert api_as(responder).post("/api/v1/escalation-policies/", body, format="json").status_code == 403
    response = api_as(manager).post("/api/v1/escalation-policies/", body, format="json")
    assert response.status_code == 201, response.json()
    assert [lv["position"] for lv in response.json()["levels"]] == [1, 2]
    world["policy"].refresh_from_db()
    assert world["policy"].is_team_default is False  # the new default took over
    empty = api_as(manager).post(
        "/api/v1/escalation-policies/", {**body, "name": "Empty", "levels": []}, format="json"
    )
    assert empty.status_code == 400


def test_overrides_api_swap_and_refusals(world, api_as, manager):
    api = api_as(manager)
    with time_machine.travel(NOW, tick=False):
        start, end = NOW + timedelta(hours=1), NOW + timedelta(hours=4)
        ok = api.post(
            "/api/v1/schedule-overrides/",
            {"schedule": world["schedule"].pk, "user": world["ben"].pk, "start": start.isoformat(), "end": end.isoformat(),
             "reason": "cover"},
            format="json",
        )  # fmt: skip
        assert ok.status_code == 201, ok.json()
        bad = api.post(
            "/api/v1/schedule-overrides/",
            {
                "schedule": world["schedule"].pk,
                "user": world["ben"].pk,
                "start": end.isoformat(),
                "end": start.isoformat(),
            },
            format="json",
        )
        assert bad.status_code == 400
        assert api.delete(f"/api/v1/schedule-overrides/{ok.json()['id']}/").status_code == 204
