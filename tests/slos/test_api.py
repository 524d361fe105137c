"""/api/v1/slos/ and /api/v1/slo-burn-alerts/: CRUD through the service, clear 400s, budget
series, pushed events (idempotent per minute) and a list whose query count does not grow."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from slos.models import SLO, SLIMinute
from tests.factories import ServiceFactory
from tests.slos.conftest import make_slo, steady, write

pytestmark = pytest.mark.django_db


def _body(service, **extra):
    return {
        "service": service.pk, "name": "Checkout requests", "kind": "pushed_events", "objective": "99.9",
        "window": "28d", "owner_team": service.owner_team.pk, "description": "Requests without a 5xx.", **extra,
    }  # fmt: skip


def test_manager_creates_with_default_burn_rules_and_bad_input_is_a_clear_400(api_as, manager):
    client = api_as(manager)
    service = ServiceFactory()
    r = client.post("/api/v1/slos/", _body(service), format="json")
    assert r.status_code == 201, r.content
    assert [rule["factor"] for rule in r.json()["burn_rules"]] == [14.4, 6.0, 1.0]
    for bad, field in [
        ({"objective": "101"}, "objective"),
        ({"name": "Checkout requests"}, "name"),  # duplicate on the service
        (
            {"burn_rules": [{"severity": "page", "factor": 2, "long_minutes": 5, "short_minutes": 60}]},
            "burn_rules",
        ),
        ({"kind": "probe_latency"}, "latency_threshold_ms"),
        ({"kind": "prometheus_ratio"}, "prometheus_good_query"),
        ({"kind": "probe_availability"}, "probes"),
    ]:
        r = client.post("/api/v1/slos/", {**_body(service), **bad}, format="json")
        assert r.status_code == 400, (bad, r.content)
        assert field in r.json(), (bad, r.json())
    assert SLO.objects.count() == 1


def test_responder_reads_but_may_not_define(api_as, responder):
    client = api_as(responder)
    slo = make_slo()
    assert client.get(f"/api/v1/slos/{slo.pk}/").status_code == 200
    assert client.post("/api/v1/slos/", _body(ServiceFactory()), format="json").status_code == 403
    assert client.delete(f"/api/v1/slos/{slo.pk}/").status_code == 403


def test_pushed_events_replace_their_minute_and_the_budget_series_adds_up(api_as, responder):
    slo = make_slo(objective="99")
    client = api_as(responder)
    now = timezone.now().replace(second=0, microsecond=0)
    events = [
        {"minute": (now - timedelta(minutes=i)).isoformat(), "good": 95 if i == 3 else 100, "total": 100}
        for i in range(1, 11)
    ]
    for _ in range(2):  # a retried request changes nothing
        r = client.post(f"/api/v1/slos/{slo.pk}/events/", {"events": events}, format="json")
        assert r.status_code == 200, r.content
        assert r.json() == {"minutes": 10}
    assert SLIMinute.objects.filter(slo=slo).count() == 10
    r = client.get(f"/api/v1/slos/{slo.pk}/budget/")
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["totals"]["good"] == 995
    assert body["totals"]["total"] == 1000
    assert body["totals"]["budget_remaining"] == pytest.approx(0.5)
    assert body["burn_rate_1h"] == pytest.approx(0.5)
    assert sum(p["total"] for p in body["points"]) == 1000
    for bad in (
        [{"minute": (now + timedelta(minutes=5)).isoformat(), "good": 1, "total": 1}],
        [{"minute": now.replace(second=30).isoformat(), "good": 1, "total": 1}],
        [{"minute": now.isoformat(), "good": 2, "total": 1}],
        [],
    ):
        r = client.post(f"/api/v1/slos/{slo.pk}/events/", {"events": bad}, format="json")
        assert r.status_code == 400, (bad, r.content)
    r = client.get(f"/api/v1/slos/{slo.pk}/budget/?start=2026-01-02T00:00:00Z&end=2026-01-01T00:00:00Z")
    assert r.status_code == 400
    assert "end" in r.json()
    probe_slo = make_slo(name="Other", kind=SLO.Kind.PUSHED_EVENTS)
    SLO.objects.filter(pk=probe_slo.pk).update(kind=SLO.Kind.PROMETHEUS_RATIO, prometheus_good_query="a",
                                                prometheus_total_query="b")  # fmt: skip
    r = client.post(f"/api/v1/slos/{probe_slo.pk}/events/", {"events": events}, format="json")
    assert r.status_code == 400


@pytest.mark.parametrize("count", [1, 30])
def test_list_query_count_does_not_grow(api_as, manager, django_assert_max_num_queries, count):
    client = api_as(manager)
    for i in range(count):
        slo = make_slo(name=f"S{i}")
        write(slo, steady(timezone.now().replace(second=0, microsecond=0) - timedelta(hours=1), 5))
    # session/auth + count + page of SLOs + their probes (prefetch)
    with django_assert_max_num_queries(8):
        r = client.get("/api/v1/slos/")
    assert r.json()["count"] == count
    with django_assert_max_num_queries(8):
        r = client.get("/api/v1/slo-burn-alerts/")
    assert r.status_code == 200


def test_the_service_page_shows_its_slos(client, manager):
    slo = make_slo(objective="99", name="Checkout requests")
    write(
        slo,
        steady(timezone.now().replace(second=0, microsecond=0) - timedelta(hours=1), 30, total=100, bad=1),
    )
    client.force_login(manager)
    r = client.get(f"/admin/catalog/service/{slo.service.pk}/change/")
    assert r.status_code == 200
    html = r.content.decode()
    assert 'id="service-slos"' in html
    assert "Checkout requests" in html
    assert "0 % of the 28-day event budget left" in html
