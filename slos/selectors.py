"""Reads: window sums from the rollups for many SLOs at once, budgets, series, panels.

:func:`window_sums` answers any set of windows for any number of SLOs with two queries (one
over ``SLIHour`` for the whole hours, one over ``SLIMinute`` for the partial hours at the
edges), so the sweep's query count does not grow with SLOs, windows or rows.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.core.cache import cache
from django.db.models import Q, Sum
from django.db.models.functions import TruncDay

from slos import engine
from slos.engine import MINUTE, Budget, Rule, floor_minute
from slos.models import SLO, BurnAlert, SLIHour, SLIMinute
from slos.rollups import minutes_for_probes

log = logging.getLogger(__name__)

WindowKey = str | int  # a window name ("7d", "28d", "30d", "month") or a length in minutes


def _range(key: WindowKey, now: datetime) -> tuple[datetime, datetime]:
    end = floor_minute(now)
    if isinstance(key, int):
        return end - key * MINUTE, end
    return engine.window_start(key, now), end


def window_sums(
    slo_ids: Iterable[int], keys: Iterable[WindowKey], now: datetime
) -> dict[int, dict[WindowKey, tuple[int, int]]]:
    """slo id -> window key -> (good, total) over the window ending at floor(now).

    Whole hours come from ``SLIHour`` (one query), the partial hours at the windows' edges from
    ``SLIMinute``: one range query per cluster of overlapping edge pieces (at most two per
    window, usually three or four in all), each an index range scan of (slo, minute). The
    number of queries depends on the windows asked for, never on SLOs or rows."""
    slo_ids = list(slo_ids)
    keys = list(dict.fromkeys(keys))
    out: dict[int, dict[WindowKey, tuple[int, int]]] = {pk: {k: (0, 0) for k in keys} for pk in slo_ids}
    if not slo_ids or not keys:
        return out
    pieces: list[tuple[datetime, datetime, int]] = []
    hour_aggs, hour_filters = {}, []
    for i, key in enumerate(keys):
        minute_pieces, hours = engine.split_range(*_range(key, now))
        pieces.extend((a, b, i) for a, b in minute_pieces)
        if hours is not None:
            hq = Q(hour__gte=hours[0], hour__lt=hours[1])
            hour_filters.append(hours)
            hour_aggs[f"g{i}"] = Sum("good", filter=hq)
            hour_aggs[f"t{i}"] = Sum("total", filter=hq)
    clusters: list[list[tuple[datetime, datetime, int]]] = []
    for piece in sorted(pieces):
        if clusters and piece[0] <= max(p[1] for p in clusters[-1]):
            clusters[-1].append(piece)
        else:
            clusters.append([piece])
    queries = []
    for cluster in clusters:
        aggs: dict = {}
        by_key: dict[int, Q] = {}
        for a, b, i in cluster:
            by_key[i] = by_key.get(i, Q()) | Q(minute__gte=a, minute__lt=b)
        for i, q in by_key.items():
            aggs[f"g{i}"] = Sum("good", filter=q)
            aggs[f"t{i}"] = Sum("total", filter=q)
        start, end = min(p[0] for p in cluster), max(p[1] for p in cluster)
        queries.append(
            SLIMinute.objects.filter(slo_id__in=slo_ids, minute__gte=start, minute__lt=end)
            .values("slo_id")
            .annotate(**aggs)
        )
    if hour_aggs:
        start, end = min(h[0] for h in hour_filters), max(h[1] for h in hour_filters)
        queries.append(
            SLIHour.objects.filter(slo_id__in=slo_ids, hour__gte=start, hour__lt=end)
            .values("slo_id")
            .annotate(**hour_aggs)
        )
    for query in queries:
        for row in query.order_by():
            cells = out[row["slo_id"]]
            for i, key in enumerate(keys):
                total = row.get(f"t{i}")
                if total:
                    g, t = cells[key]
                    cells[key] = (g + row[f"g{i}"], t + total)
    return out


def minute_series(slo_id: int, start: datetime, end: datetime) -> dict[datetime, tuple[int, int]]:
    return {
        m: (g, t)
        for m, g, t in SLIMinute.objects.filter(slo_id=slo_id, minute__gte=start, minute__lt=end).values_list(
            "minute", "good", "total"
        )
    }


def rules(slo: SLO) -> list[Rule]:
    try:
        return engine.validate_rules(slo.burn_rules)
    except ValueError:
        return [Rule.from_dict(r) for r in SLO._meta.get_field("burn_rules").default()]


@dataclass
class Status:
    slo: SLO
    budget: Budget
    burn_1h: float | None
    windows: dict = field(default_factory=dict)
    open_alerts: list = field(default_factory=list)

    @property
    def remaining(self) -> float | None:
        return self.budget.remaining

    @property
    def sort_key(self):
        # worst first: exhausted/overspent, then least left; no data last
        r = self.remaining
        return (r is None, r if r is not None else 0.0, self.slo.service.name, self.slo.name)

    @property
    def label(self) -> str:
        return budget_label(self.slo, self.budget)


def fmt_rate(rate: float | None) -> str:
    if rate is None:
        return "no data"
    if math.isinf(rate):
        return "∞"
    return f"{rate:.1f}x"


def fmt_pct(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "no data"
    return f"{value * 100:.{digits}f} %"


def window_label(slo: SLO) -> str:
    return "calendar-month" if slo.window == SLO.Window.MONTH else f"{slo.window[:-1]}-day"


def kind_word(slo: SLO) -> str:
    return {
        SLO.Kind.PROBE_AVAILABILITY: "availability",
        SLO.Kind.PROBE_LATENCY: "latency",
        SLO.Kind.PROMETHEUS_RATIO: "ratio",
        SLO.Kind.PUSHED_EVENTS: "event",
    }[slo.kind]


def budget_label(slo: SLO, budget: Budget) -> str:
    """ "checkout-api: 3 % of the 28-day availability budget left"."""
    if not budget.has_data:
        return f"{slo.service.slug}: no data yet for the {window_label(slo)} {kind_word(slo)} budget ({slo.name})"
    remaining = max(budget.remaining, 0.0) if budget.remaining is not None else None
    return f"{slo.service.slug}: {fmt_pct(remaining)} of the {window_label(slo)} {kind_word(slo)} budget left ({slo.name})"


def statuses(
    slos: Iterable[SLO] | None = None, *, now: datetime, with_rule_windows: bool = False
) -> list[Status]:
    """Budget, SLI and 1-hour burn of every given (default: active) SLO, worst first.
    Queries: SLOs (1, with service) + 2 window sums + open alerts (1)."""
    if slos is None:
        slos = SLO.objects.filter(is_active=True).select_related("service", "owner_team")
    slos = list(slos)
    keys: list[WindowKey] = [*sorted({s.window for s in slos}), 60]
    if with_rule_windows:
        for s in slos:
            for r in rules(s):
                keys.extend([r.long_minutes, r.short_minutes])
    sums = window_sums([s.pk for s in slos], keys, now)
    alerts = defaultdict(list)
    for alert in BurnAlert.objects.filter(slo__in=[s.pk for s in slos], status=BurnAlert.Status.OPEN):
        alerts[alert.slo_id].append(alert)
    out = []
    for s in slos:
        cells = sums[s.pk]
        g, t = cells[s.window]
        g1, t1 = cells[60]
        out.append(
            Status(
                slo=s, budget=Budget(g, t, s.objective), burn_1h=engine.burn_rate(g1, t1, s.objective),
                windows=cells, open_alerts=alerts.get(s.pk, []),
            )
        )  # fmt: skip
    out.sort(key=lambda st: st.sort_key)
    return out


def for_services(service_ids: Iterable[int], *, now: datetime) -> dict[int, list[Status]]:
    slos = SLO.objects.filter(is_active=True, service_id__in=list(service_ids)).select_related("service")
    out = defaultdict(list)
    for st in statuses(slos, now=now):
        out[st.slo.service_id].append(st)
    return out


def budget_series(slo: SLO, start: datetime, end: datetime) -> dict:
    """Totals and an hourly (or daily, beyond 7 days) series over [start, end): per point the
    good/total of that bucket and the budget remaining so far (burn-down)."""
    start, end = floor_minute(start), floor_minute(end)
    pieces, hours = engine.split_range(start, end)
    span = end - start
    daily = span > timedelta(days=7)
    buckets: dict[datetime, list[int]] = defaultdict(lambda: [0, 0])

    def bucket(at: datetime) -> datetime:
        return at.replace(hour=0, minute=0) if daily else at.replace(minute=0)

    if pieces:
        q = Q()
        for a, b in pieces:
            q |= Q(minute__gte=a, minute__lt=b)
        for m, g, t in SLIMinute.objects.filter(q, slo=slo).values_list("minute", "good", "total"):
            cell = buckets[bucket(m)]
            cell[0] += g
            cell[1] += t
    if hours is not None:
        hour_rows = SLIHour.objects.filter(slo=slo, hour__gte=hours[0], hour__lt=hours[1])
        if daily:
            rows = (
                hour_rows.annotate(d=TruncDay("hour", tzinfo=UTC))
                .values("d")
                .annotate(g=Sum("good"), t=Sum("total"))
            ).values_list("d", "g", "t")
        else:
            rows = hour_rows.values_list("hour", "good", "total")
        for at, g, t in rows:
            cell = buckets[bucket(at)]
            cell[0] += g
            cell[1] += t
    good = sum(c[0] for c in buckets.values())
    total = sum(c[1] for c in buckets.values())
    budget = Budget(good, total, slo.objective)
    allowed = engine.allowed_fraction(slo.objective) * total
    points, bad_so_far = [], 0
    for at in sorted(buckets):
        g, t = buckets[at]
        bad_so_far += t - g
        if total == 0:
            remaining = None
        elif allowed == 0:
            remaining = 0.0 if bad_so_far else 1.0
        else:
            remaining = float(1 - bad_so_far / allowed)
        points.append({"start": at, "good": g, "total": t, "budget_remaining": remaining})
    return {
        "start": start,
        "end": end,
        "bucket": "day" if daily else "hour",
        "budget": budget,
        "points": points,
    }


def preview(slo: SLO, probes, *, now: datetime) -> Budget:
    """The admin preview: the SLI and budget of the last window computed from raw probe results
    for the probes chosen in the form (nothing saved)."""
    start = engine.window_start(slo.window, now)
    minutes = minutes_for_probes(
        probes, start, floor_minute(now), kind=slo.kind, degraded_is_good=slo.degraded_is_good,
        threshold=slo.latency_threshold_ms,
    )  # fmt: skip
    return Budget(sum(g for g, _ in minutes.values()), sum(t for _, t in minutes.values()), slo.objective)


def daily_counts(
    slo_ids: list[int], start: datetime, end: datetime
) -> dict[tuple[int, object], tuple[int, int]]:
    """(slo id, UTC date) -> (total, good) over whole hours in [start, end) (the status page's
    uptime bars). One query."""
    if not slo_ids:
        return {}
    rows = (
        SLIHour.objects.filter(slo_id__in=slo_ids, hour__gte=start, hour__lt=end)
        .annotate(day=TruncDay("hour", tzinfo=UTC))
        .values("slo_id", "day")
        .annotate(g=Sum("good"), t=Sum("total"))
        .order_by()
    )
    return {(row["slo_id"], row["day"].date()): (row["t"], row["g"]) for row in rows}


# The sweep leaves every active SLO's figures here each minute; the dashboard panel reads them
# instead of summing 28 days of rollups again (and computes them itself when the snapshot is
# missing, older than SNAPSHOT_MAX_AGE or about another set of SLOs).
SNAPSHOT_KEY = "slos:statuses"
SNAPSHOT_MAX_AGE = timedelta(minutes=2)


def store_snapshot(statuses_: list[Status], now: datetime) -> None:
    rows = {st.slo.pk: (st.budget.good, st.budget.total, *st.windows.get(60, (0, 0))) for st in statuses_}
    try:
        cache.set(SNAPSHOT_KEY, {"at": now, "rows": rows}, timeout=300)
    except Exception:
        log.warning("SLO snapshot not stored (cache unavailable)")


def statuses_from_snapshot(slos: list[SLO], now: datetime) -> list[Status] | None:
    try:
        snap = cache.get(SNAPSHOT_KEY)
    except Exception:
        return None
    if not snap or not (timedelta(0) <= now - snap["at"] <= SNAPSHOT_MAX_AGE):
        return None
    rows = snap["rows"]
    if set(rows) != {s.pk for s in slos}:
        return None
    alerts = defaultdict(list)
    for alert in BurnAlert.objects.filter(slo__in=[s.pk for s in slos], status=BurnAlert.Status.OPEN):
        alerts[alert.slo_id].append(alert)
    out = []
    for s in slos:
        g, t, g1, t1 = rows[s.pk]
        out.append(
            Status(
                slo=s, budget=Budget(g, t, s.objective), burn_1h=engine.burn_rate(g1, t1, s.objective),
                windows={s.window: (g, t), 60: (g1, t1)}, open_alerts=alerts.get(s.pk, []),
            )
        )  # fmt: skip
    out.sort(key=lambda st: st.sort_key)
    return out
