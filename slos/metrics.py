"""SLO gauges for the Prometheus exposition on /metrics (``metrics.prometheus`` yields them):
``opsportal_slo_sli``, ``opsportal_slo_error_budget_remaining`` and
``opsportal_slo_burn_rate{window}``. Four queries per scrape for every SLO (``selectors.statuses``)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import datetime

from prometheus_client.core import GaugeMetricFamily

from slos import engine, selectors

BURN_WINDOWS = {"5m": 5, "1h": 60, "6h": 360}


def families(now: datetime) -> Iterator[GaugeMetricFamily]:
    statuses = selectors.statuses(now=now, with_rule_windows=False)
    sums = selectors.window_sums([st.slo.pk for st in statuses], list(BURN_WINDOWS.values()), now)
    labels = ["slo", "service"]
    sli = GaugeMetricFamily(
        "opsportal_slo_sli", "Good / total events over the SLO window (absent: no data).", labels=labels
    )
    remaining = GaugeMetricFamily(
        "opsportal_slo_error_budget_remaining",
        "Fraction of the error budget left over the SLO window (negative: overspent; absent: no data).",
        labels=labels,
    )
    burn = GaugeMetricFamily(
        "opsportal_slo_burn_rate",
        "Error-budget burn rate over the window (1 = exactly the budget over the SLO window; +Inf at a 100 % objective).",
        labels=[*labels, "window"],
    )
    for st in statuses:
        key = [st.slo.name, st.slo.service.slug]
        if st.budget.sli is not None:
            sli.add_metric(key, st.budget.sli)
            remaining.add_metric(key, st.budget.remaining)
        for name, minutes in BURN_WINDOWS.items():
            rate = engine.burn_rate(*sums[st.slo.pk][minutes], st.slo.objective)
            if rate is not None:
                burn.add_metric([*key, name], rate if not math.isinf(rate) else math.inf)
    yield sli
    yield remaining
    yield burn
