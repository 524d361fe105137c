"""/api/v1/metrics/ and the CSV export: same numbers as the selectors and the dashboard."""

import csv
import io
import re

import pytest

from metrics import selectors
from metrics.api import CSV_COLUMNS
from metrics.selectors import Filters
from tests.metrics.conftest import at

QUERY = {"start": "2026-03-01", "end": "2026-03-31"}


@pytest.fixture
def march(settings):
    settings.TIME_ZONE = "UTC"
    return Filters(start=at(3, 1, 0), end=at(4, 1, 0))


def test_api_returns_the_selector_numbers(world, march, api_as, manager):
    response = api_as(manager).get("/api/v1/metrics/", QUERY)
    assert response.status_code == 200, response.content
    body = response.json()
    expected = selectors.report(march)
    assert body["incidents"] == 5
    assert body["metrics"] == expected["metrics"]
    assert body["time_to_detect_by_source"] == expected["time_to_detect_by_source"]
    assert body["frequency"]["total"] == 5
    assert body["frequency"]["by_severity"] == expected["frequency"]["by_severity"]
    assert body["metrics"]["time_to_detect"]["p90_seconds"] == 3696.0
    assert body["definitions"]["time_to_resolve"].startswith("resolved_at - started_at")
    assert body["period"]["start"].startswith("2026-03-01T00:00:00")
    assert body["period"]["end"].startswith("2026-04-01T00:00:00")


def test_api_filters(world, api_as, manager):
    client = api_as(manager)
    team = client.get("/api/v1/metrics/", {**QUERY, "team": world["y"].pk}).json()
    assert team["incidents"] == 2
    assert team["filters"]["team"] == world["y"].pk
    sev = client.get("/api/v1/metrics/", {**QUERY, "severity": 2}).json()
    assert sev["metrics"]["time_to_detect"]["median_seconds"] == 150.0
    svc = client.get("/api/v1/metrics/", {**QUERY, "service": world["search"].pk}).json()
    assert svc["incidents"] == 2


@pytest.mark.parametrize(
    "params",
    [
        {"start": "2026-03-10", "end": "2026-03-01"},
        {"start": "yesterday"},
        {"team": "999999"},
        {"team": "x"},
        {"severity": "7"},
        {"detection_source": "psychic"},
        {"start": "2000-01-01", "end": "2026-01-01"},
        {"start": "0001-01-01", "end": "9999-12-31"},
        {"start": "9999-12-30", "end": "9999-12-31"},
        {"end": "0001-01-02"},
        {"start": "0001-01-01"},
        {"start": "2026-02-30"},
    ],
)
def test_api_bad_filters_are_400(world, api_as, manager, params):
    response = api_as(manager).get("/api/v1/metrics/", params)
    assert response.status_code == 400
    response = api_as(manager).get("/api/v1/metrics/export/", params)
    assert response.status_code == 400


def test_api_defaults_to_last_thirty_days(db, api_as, manager):
    body = api_as(manager).get("/api/v1/metrics/").json()
    assert body["incidents"] == 0
    assert body["metrics"]["time_to_resolve"]["median_seconds"] is None


def test_who_may_read_metrics(
    world, api_as, manager, responder, release_lead, support_user, outsider, api_client
):
    for user in (manager, responder, release_lead):
        assert api_as(user).get("/api/v1/metrics/", QUERY).status_code == 200
        assert api_as(user).get("/api/v1/metrics/export/", QUERY).status_code == 200
    for user in (support_user, outsider):
        assert api_as(user).get("/api/v1/metrics/", QUERY).status_code == 403
        assert api_as(user).get("/api/v1/metrics/export/", QUERY).status_code == 403
    assert api_client.get("/api/v1/metrics/").status_code == 401


def test_csv_columns_and_rows(world, api_as, manager):
    world["incidents"]["A"].title = "=HYPERLINK(evil)"
    world["incidents"]["A"].save()
    response = api_as(manager).get("/api/v1/metrics/export/", QUERY)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "incident-metrics-20260301-20260401.csv" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert list(rows[0].keys()) == [name for name, _ in CSV_COLUMNS]
    assert list(rows[0].keys()) == [
        "reference", "title", "severity", "status", "detection_source", "team", "primary_service",
        "started_at", "detected_at", "acknowledged_at", "mitigated_at", "resolved_at", "customer_impact",
        "customers_affected", "time_to_detect_seconds", "time_to_acknowledge_seconds",
        "time_to_mitigate_seconds", "time_to_resolve_seconds", "customer_impact_duration_seconds",
    ]  # fmt: skip
    assert len(rows) == 5
    a, d = rows[0], rows[3]
    assert a["reference"] == f"INC-{world['incidents']['A'].number}"
    assert a["title"] == "'=HYPERLINK(evil)"  # spreadsheet formula neutralised
    assert a["severity"] == "SEV-1"
    assert a["team"] == "Team X"
    assert a["customer_impact"] == "yes"
    assert (a["time_to_detect_seconds"], a["time_to_resolve_seconds"]) == ("60", "1200")
    assert d["acknowledged_at"] == ""
    assert d["time_to_acknowledge_seconds"] == ""
    assert d["customer_impact"] == "yes"
    assert d["customer_impact_duration_seconds"] == ""
    assert a["started_at"] == "2026-03-02T09:59:00+00:00"


def _dashboard_numbers(html: str) -> dict:
    """metric key -> (mean, median, p90, counted, excluded) as the dashboard shows them."""
    out = {}
    for key in selectors.LABELS:
        row = re.search(rf'<tr id="metric-{key}">(.*?)</tr>', html, re.S).group(1)
        seconds = re.findall(r'data-seconds="([^"]*)"', row)
        counts = re.findall(r'<td class="num">(\d+)</td>', row)
        out[key] = (*[float(s) if s else None for s in seconds], *map(int, counts))
    return out


def test_api_equals_dashboard(world, api_as, manager, client):
    client.force_login(manager)
    for params in (QUERY, {**QUERY, "team": world["x"].pk}, {**QUERY, "severity": 2}):
        html = client.get("/admin/", params).content.decode()
        api = api_as(manager).get("/api/v1/metrics/", params).json()
        shown = _dashboard_numbers(html)
        for key, stats in api["metrics"].items():
            assert shown[key] == (
                stats["mean_seconds"],
                stats["median_seconds"],
                stats["p90_seconds"],
                stats["count"],
                stats["excluded"],
            ), key
        assert f'<span id="metric-incidents">{api["incidents"]} incident' in html


def test_csv_durations_are_exact_and_parse_back(world, api_as, manager):
    """Durations of a million seconds and more are written in full (never 1.12346e+06), and
    fractional ones as exact decimals: each cell parses back to the exact duration between
    the row's own timestamps."""
    from datetime import timedelta
    from decimal import Decimal

    from tests.metrics import factories

    big = factories.build(detected_at=at(3, 25), ttd=1, tta=1, ttm=2, ttr=3, commander=world["commander"],
                          customer_impact="Invoices late", title="Long one")  # fmt: skip
    big.started_at = big.detected_at - timedelta(seconds=1_123_457)
    big.acknowledged_at = big.detected_at + timedelta(seconds=2_345_678, microseconds=250_000)
    big.mitigated_at = big.started_at + timedelta(seconds=9_876_543, microseconds=1)
    big.resolved_at = big.started_at + timedelta(seconds=12_345_678)
    big.save()
    response = api_as(manager).get("/api/v1/metrics/export/", QUERY)
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    (row,) = [r for r in rows if r["reference"] == f"INC-{big.number}"]
    assert row["time_to_detect_seconds"] == "1123457"
    assert row["time_to_acknowledge_seconds"] == "2345678.25"
    assert row["time_to_mitigate_seconds"] == "9876543.000001"
    assert row["time_to_resolve_seconds"] == "12345678"
    assert row["customer_impact_duration_seconds"] == "9876543.000001"
    assert int(row["time_to_detect_seconds"]) == 1_123_457
    # every duration cell of every row equals its timestamps' difference, to the microsecond
    spans = {
        "time_to_detect_seconds": ("detected_at", "started_at"),
        "time_to_acknowledge_seconds": ("acknowledged_at", "detected_at"),
        "time_to_mitigate_seconds": ("mitigated_at", "started_at"),
        "time_to_resolve_seconds": ("resolved_at", "started_at"),
    }
    from datetime import datetime

    for r in rows:
        for column, (end, start) in spans.items():
            if not r[end]:
                assert r[column] == ""
                continue
            delta = datetime.fromisoformat(r[end]) - datetime.fromisoformat(r[start])
            assert Decimal(r[column]) == Decimal(delta // timedelta(microseconds=1)) / 1_000_000, column
            assert "e" not in r[column].lower()
