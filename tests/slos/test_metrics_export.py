"""The SLO gauges on /metrics (Prometheus text exposition)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.metrics.test_prometheus import TOKEN, samples, scrape
from tests.slos.conftest import make_slo, steady, write

pytestmark = pytest.mark.django_db


def test_sli_budget_and_burn_rates_are_exported(client, settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_NETWORKS = []
    slo = make_slo(objective="99", name="Checkout requests")
    quiet = make_slo(objective="99.9", name="Quiet")
    now = timezone.now().replace(second=0, microsecond=0)
    series = steady(now - timedelta(hours=2), 120, total=100)
    for i in range(1, 4):
        series[now - timedelta(minutes=i)] = (90, 100)  # 10 % bad in the last 3 minutes
    write(slo, series)
    got = samples(scrape(client, HTTP_AUTHORIZATION=f"Bearer {TOKEN}"))
    key = (("service", slo.service.slug), ("slo", "Checkout requests"))
    assert got[("opsportal_slo_sli", key)] == pytest.approx(1 - 30 / 12_000)
    assert got[("opsportal_slo_error_budget_remaining", key)] == pytest.approx(1 - 30 / 120)
    assert got[("opsportal_slo_burn_rate", (*key, ("window", "5m")))] == pytest.approx(6.0)
    assert got[("opsportal_slo_burn_rate", (*key, ("window", "1h")))] == pytest.approx(0.5)
    quiet_key = (("service", quiet.service.slug), ("slo", "Quiet"))
    assert ("opsportal_slo_sli", quiet_key) not in got  # no data: absent, not zero
