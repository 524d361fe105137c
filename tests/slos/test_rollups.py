"""Probe SLIs from real probe results: the probe engine checks a local HTTP server
(pytest-httpserver), ``record_outcomes`` stores the results and the rollup counts them in the
same transaction; maintenance windows are excluded, also when added in the past and recomputed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from werkzeug.wrappers import Response

from probes import services as probe_services
from probes.models import MaintenanceWindow, Probe
from slos import rollups, selectors, services
from slos.models import SLO, SLIHour, SLIMinute
from tests.probes.factories import ProbeFactory
from tests.slos.conftest import make_slo

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 2, 9, 58, 10, tzinfo=UTC)


def _run(probe: Probe, at: datetime) -> None:
    with time_machine.travel(at, tick=True):
        Probe.objects.filter(pk=probe.pk).update(next_run_at=at - timedelta(seconds=1))
        for ids, token in probe_services.dispatch_due(enqueue=False).batches:
            probe_services.run_batch(probe_ids=ids, lease_token=token)


def test_real_probe_results_are_rolled_up_per_minute_and_hour_without_maintenance(httpserver, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    status = {"code": 200}
    httpserver.expect_request("/health").respond_with_handler(
        lambda request: Response("ok", status=status["code"])
    )
    probe = ProbeFactory(url=httpserver.url_for("/health"), interval_seconds=60, latency_threshold_ms=None)
    availability = make_slo(
        kind=SLO.Kind.PROBE_AVAILABILITY,
        objective="99",
        probes=[probe],
        name="Availability",
        service=probe.service,
    )
    latency = make_slo(
        kind=SLO.Kind.PROBE_LATENCY, objective="90", probes=[probe], name="Latency", latency_threshold_ms=5000,
        service=probe.service,
    )  # fmt: skip
    MaintenanceWindow.objects.create(
        service=probe.service,
        reason="deploy",
        starts_at=START + timedelta(minutes=4),
        ends_at=START + timedelta(minutes=5),
    )
    outcomes = {0: 200, 1: 200, 2: 500, 3: 500, 4: 500, 5: 200}  # minute 4 is inside the maintenance window
    for minute, code in outcomes.items():
        status["code"] = code
        _run(probe, START + timedelta(minutes=minute))
    assert probe.results.count() == 6
    minutes = dict(
        ((m.minute - START.replace(second=0)).seconds // 60, (m.good, m.total))
        for m in SLIMinute.objects.filter(slo=availability)
    )
    assert minutes == {0: (1, 1), 1: (1, 1), 2: (0, 1), 3: (0, 1), 5: (1, 1)}
    hours = dict(SLIHour.objects.filter(slo=availability).values_list("hour__hour", "total"))
    assert hours == {9: 2, 10: 3}  # 09:58 and 09:59; 10:00, 10:01 and 10:03
    # latency: a failing check is not a fast one
    assert sorted(SLIMinute.objects.filter(slo=latency).values_list("good", flat=True)) == [0, 0, 1, 1, 1]
    # a maintenance window added afterwards over minute 2-3, then a re-computation from raw results
    MaintenanceWindow.objects.create(
        probe=probe,
        reason="forgot to declare it",
        starts_at=START + timedelta(minutes=2),
        ends_at=START + timedelta(minutes=4),
    )
    services.recompute(slo=availability, start=START - timedelta(hours=1), end=START + timedelta(hours=1))
    budget = selectors.statuses([availability], now=START + timedelta(minutes=10))[0].budget
    assert (budget.good, budget.total) == (3, 3)
    assert sum(SLIHour.objects.filter(slo=availability).values_list("total", flat=True)) == 3


def test_the_rollup_costs_a_fixed_number_of_queries(django_assert_num_queries):
    probes = [ProbeFactory() for _ in range(3)]
    slo = make_slo(kind=SLO.Kind.PROBE_AVAILABILITY, probes=[probes[0]], service=probes[0].service)
    for p in probes:
        p.service = probes[0].service
    results = [
        probe_services.ProbeResult(probe=p, checked_at=START + timedelta(seconds=i), outcome="up", ok=True)
        for i, p in enumerate(probes * 50)
    ]
    # expected: SLO links of the batch's probes, maintenance windows, minute upsert, hour upsert
    with django_assert_num_queries(4):
        rollups.on_results_recorded(None, results=results)
    assert sum(SLIMinute.objects.filter(slo=slo).values_list("total", flat=True)) == 50
