"""End to end with a real Prometheus scraping an exporter the test controls (see conftest for
the docs followed): a fast burn pages once, with ``detected_at`` at the burn's start, and
resolves by itself; a slow burn produces only a ticket notification."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from incidents.models import Incident
from notifications.models import Notification
from oncall.models import Page
from slos import prometheus, rollups, services
from slos.models import SLO, BurnAlert
from tests.oncall.factories import PolicyFactory, level
from tests.slos.conftest import Exporter, PrometheusServer, make_slo, steady

pytestmark = pytest.mark.django_db(transaction=False)

MIN = timedelta(minutes=1)
PER_MINUTE = 100
OUTAGE = range(40, 55)  # minutes of the fast SLO's full outage
SCRIPT_MINUTES = 80


def _script(base: datetime) -> list[tuple[datetime, dict[str, float]]]:
    counters = {
        "fast_good_total": 0,
        "fast_requests_total": 0,
        "slow_good_total": 0,
        "slow_requests_total": 0,
    }
    script = []
    for k in range(SCRIPT_MINUTES + 1):
        script.append((base + k * MIN, dict(counters)))
        counters["fast_requests_total"] += PER_MINUTE
        counters["fast_good_total"] += 0 if k in OUTAGE else PER_MINUTE
        counters["slow_requests_total"] += PER_MINUTE
        counters["slow_good_total"] += PER_MINUTE - 2  # 2 % bad at 99 %: a 2x burn
    return script


@pytest.fixture
def prom(tmp_path, settings):
    base = (timezone.now() - timedelta(hours=3)).replace(second=0, microsecond=0)
    exporter = Exporter(_script(base))
    server = PrometheusServer(tmp_path, exporter.port)
    try:
        deadline = time.monotonic() + 90
        while not exporter.done and time.monotonic() < deadline:
            time.sleep(0.2)
        assert exporter.done, "Prometheus did not scrape the whole script"
        time.sleep(0.5)
        settings.PROMETHEUS_URL = server.url
        settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]
        settings.SLO_SYNC_OVERLAP_MINUTES = 0
        prometheus._client = None
        yield base
    finally:
        prometheus._client = None
        server.close()
        exporter.close()


def test_range_queries_read_the_exporters_counters(prom):
    base = prom
    minutes = prometheus.minutes("fast_good_total", "fast_requests_total", base, base + 60 * MIN)
    assert minutes[base] == (PER_MINUTE, PER_MINUTE)
    assert minutes[base + 40 * MIN] == (0, PER_MINUTE)
    assert len(minutes) == 60


def test_fast_burn_pages_once_at_the_burn_start_and_resolves_itself_slow_burn_only_tickets(prom):
    base = prom
    fast = make_slo(
        name="Fast", kind=SLO.Kind.PROMETHEUS_RATIO, objective="99", open_incident=True, incident_severity=3,
        prometheus_good_query="fast_good_total", prometheus_total_query="fast_requests_total",
    )  # fmt: skip
    slow = make_slo(
        name="Slow", kind=SLO.Kind.PROMETHEUS_RATIO, objective="99",
        prometheus_good_query="slow_good_total", prometheus_total_query="slow_requests_total",
    )  # fmt: skip
    for slo in (fast, slow):
        policy = PolicyFactory(team=slo.service.owner_team, is_team_default=True)
        level(policy, 1, users=[slo.service.owner_team.manager])
    # The fast SLO was synced before the script: three healthy days already rolled up.
    rollups.replace_minutes(
        fast.pk, base - timedelta(days=3), base, steady(base - timedelta(days=3), 3 * 1440)
    )
    SLO.objects.filter(pk=fast.pk).update(prometheus_synced_until=base)

    for k in range(5, SCRIPT_MINUTES + 1):
        at = base + k * MIN + timedelta(seconds=20)
        with time_machine.travel(at, tick=False):
            services.sweep(now=at)

    page_alerts = BurnAlert.objects.filter(slo=fast, severity="page")
    assert page_alerts.count() == 1
    alert = page_alerts.get()
    # the burn began in minute 40; 9 minutes of full outage push the 1 h window past 14.4x
    assert alert.burn_started_at == base + 40 * MIN
    assert alert.detected_at == base + 49 * MIN + timedelta(seconds=20)
    # resolved by itself once the 5-minute window was clear of the outage (minute 55 + 5)
    assert alert.status == "resolved"
    assert alert.resolved_at == base + 60 * MIN + timedelta(seconds=20)
    pages = Page.objects.filter(dedup_key__startswith="slos:burn:") | Page.objects.filter(
        dedup_key__startswith="incident:"
    )
    assert pages.count() == 1
    page = pages.get()
    assert "Fast" in page.title
    assert "burning" in page.title
    assert "budget left" in page.title
    incident = Incident.objects.get(detection_source="slo")
    assert incident.detected_at == base + 40 * MIN
    assert not BurnAlert.objects.filter(slo=fast, severity="ticket").exists()

    slow_alerts = list(BurnAlert.objects.filter(slo=slow))
    assert [a.severity for a in slow_alerts] == ["ticket"]
    assert slow_alerts[0].status == "open"
    assert slow_alerts[0].burn_started_at == base  # it has burned since its first minute
    assert slow_alerts[0].page is None
    tickets = Notification.objects.filter(
        kind="update", event_key__startswith=f"slos:burn:{slow_alerts[0].pk}:"
    )
    assert tickets.exists()
    assert not Notification.objects.filter(
        kind="page", event_key__startswith=f"slos:burn:{slow_alerts[0].pk}:"
    )
    assert datetime.now(UTC) > base  # the script lies in the past: nothing was in the future
