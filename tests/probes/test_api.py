"""/api/v1/probes/ and friends: CRUD through services, masking, transitions, permissions,
constant query counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from probes.models import Probe, ProbeEvent, ProbeResult
from tests.factories import ServiceFactory
from tests.probes.factories import HeartbeatFactory, ProbeFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/probes/"


def test_manager_creates_an_http_probe(api_as, manager):
    service = ServiceFactory()
    response = api_as(manager).post(
        URL,
        {"name": "Billing health", "service": service.pk, "kind": "http", "url": "https://billing.example.com/healthz",
         "headers": {"Authorization": "Bearer verysecrettoken123"}, "expected_statuses": "200"},
        format="json",
    )  # fmt: skip
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["headers_masked"] == {"Authorization": "Bear********"}
    assert "headers" not in body
    assert "verysecrettoken123" not in response.content.decode()
    probe = Probe.objects.get(pk=body["id"])
    assert probe.headers == {"Authorization": "Bearer verysecrettoken123"}
    assert probe.next_run_at is not None


def test_invalid_probe_is_a_400_with_the_field(api_as, manager):
    service = ServiceFactory()
    client = api_as(manager)
    response = client.post(URL, {"name": "x", "service": service.pk, "kind": "tcp", "host": "db.example.com"})
    assert response.status_code == 400
    assert response.json() == {"port": ["TCP probes need a port."]}
    metadata = client.post(
        URL, {"name": "x", "service": service.pk, "kind": "http", "url": "http://169.254.169.254/"}
    )
    assert metadata.status_code == 400
    assert "url" in metadata.json()


def test_heartbeat_exposes_its_ping_url(api_as, manager):
    probe = HeartbeatFactory()
    body = api_as(manager).get(f"{URL}{probe.pk}/").json()
    assert body["ping_url"] == f"http://localhost:8000/ping/{probe.uuid}"


def test_results_events_and_uptime(api_as, manager):
    probe = ProbeFactory()
    now = datetime.now(UTC)
    for i, (ok, latency) in enumerate([(True, 10.0), (True, 20.0), (False, None), (True, 40.0)]):
        ProbeResult.objects.create(probe=probe, checked_at=now - timedelta(minutes=i), outcome="up" if ok else "down",
                                   ok=ok, latency_ms=latency)  # fmt: skip
    ProbeEvent.objects.create(probe=probe, created_at=now, from_state="new", to_state="up")
    client = api_as(manager)
    results = client.get(f"{URL}{probe.pk}/results/").json()
    assert results["count"] == 4
    assert results["results"][0]["latency_ms"] == 10.0
    events = client.get(f"{URL}{probe.pk}/events/").json()
    assert [e["to_state"] for e in events["results"]] == ["up"]
    uptime = client.get(f"{URL}{probe.pk}/uptime/").json()
    assert uptime["uptime_24h"] == 75.0
    assert uptime["latency_p50_ms_24h"] == 20.0
    assert uptime["latency_p95_ms_24h"] == 38.0  # percentile_cont: 20 + 0.9 * (40 - 20)


def test_pause_resume_and_conflicts(api_as, responder):
    probe = ProbeFactory()
    client = api_as(responder)
    assert client.post(f"{URL}{probe.pk}/pause/").json()["state"] == "paused"
    again = client.post(f"{URL}{probe.pk}/pause/")
    assert again.status_code == 409
    assert again.json() == {"detail": "The probe is already paused."}
    assert client.post(f"{URL}{probe.pk}/resume/").json()["state"] == "new"
    assert client.post(f"{URL}{probe.pk}/run-now/").status_code == 202
    assert client.post(f"{URL}{probe.pk}/run-now/").status_code == 409


def test_run_now_on_a_heartbeat_is_a_400(api_as, manager):
    probe = HeartbeatFactory()
    assert api_as(manager).post(f"{URL}{probe.pk}/run-now/").status_code == 400


@pytest.mark.parametrize(
    ("actor", "read", "create", "pause"),
    [
        ("manager", 200, 201, 200),
        ("responder", 200, 403, 200),
        ("release_lead", 200, 403, 403),
        ("support_user", 403, 403, 403),
        ("outsider", 403, 403, 403),
    ],
)
def test_permissions_per_role(request, api_as, actor, read, create, pause):
    user = request.getfixturevalue(actor)
    probe = ProbeFactory()
    client = api_as(user)
    assert client.get(URL).status_code == read
    payload = {"name": "n", "service": probe.service_id, "kind": "http", "url": "https://a.example/"}
    assert client.post(URL, payload).status_code == create
    assert client.post(f"{URL}{probe.pk}/pause/").status_code == pause


def test_anonymous_is_401(api_client):
    assert api_client.get(URL).status_code == 401


@pytest.mark.parametrize("rows", [1, 30])
def test_list_is_constant_queries(api_as, manager, django_assert_num_queries, rows):
    ProbeFactory.create_batch(rows)
    client = api_as(manager)
    # user permissions, group permissions, COUNT, the page with the service joined
    with django_assert_num_queries(4):
        response = client.get(URL)
    assert response.json()["count"] == rows


def test_maintenance_window_api(api_as, responder):
    service = ServiceFactory()
    now = datetime.now(UTC)
    client = api_as(responder)
    created = client.post(
        "/api/v1/maintenance-windows/",
        {"service": service.pk, "reason": "DB upgrade", "starts_at": now.isoformat(),
         "ends_at": (now + timedelta(hours=1)).isoformat()},
        format="json",
    )  # fmt: skip
    assert created.status_code == 201, created.json()
    assert created.json()["active_now"] is True
    assert created.json()["created_by"] == responder.pk
    bad = client.post(
        "/api/v1/maintenance-windows/", {"service": service.pk, "reason": "x", "starts_at": now.isoformat()}
    )
    assert bad.status_code == 400
    assert bad.json() == {"ends_at": ["One-off windows need an end."]}


def test_probe_alerts_are_read_only(api_as, superuser):
    client = api_as(superuser)
    assert client.get("/api/v1/probe-alerts/").status_code == 200
    assert client.post("/api/v1/probe-alerts/", {}).status_code == 405
