"""Reads over probes: uptime, latency percentiles and sparkline series, all computed in the
database over the ``probes_result_probe_time`` index, bounded per query."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import Aggregate, Count, F, FloatField, Q, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from probes.models import Probe, ProbeEvent, ProbeResult

WINDOWS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
SPARK_POINTS = 30


class PercentileCont(Aggregate):
    """PostgreSQL ``percentile_cont(f) WITHIN GROUP (ORDER BY expr)``."""

    function = "percentile_cont"
    template = "%(function)s(%(percentile)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression, percentile: float, **extra):
        if not 0 <= percentile <= 1:
            raise ValueError("percentile must be within 0..1")
        super().__init__(expression, percentile=float(percentile), **extra)


def uptime(probe_ids: Iterable[int], *, since: datetime) -> dict[int, float | None]:
    """probe id -> % of results since ``since`` that were up or degraded (None: no data).
    One grouped query."""
    ids = list(probe_ids)
    rows = (
        ProbeResult.objects.filter(probe_id__in=ids, checked_at__gte=since)
        .values("probe_id")
        .order_by()
        .annotate(total=Count("pk"), up=Count("pk", filter=Q(ok=True)))
    )
    out: dict[int, float | None] = dict.fromkeys(ids)
    for row in rows:
        out[row["probe_id"]] = round(100.0 * row["up"] / row["total"], 3) if row["total"] else None
    return out


def uptime_windows(probe: Probe, *, now: datetime | None = None) -> dict[str, float | None]:
    now = now or timezone.now()
    since = {name: now - delta for name, delta in WINDOWS.items()}
    agg = ProbeResult.objects.filter(probe=probe, checked_at__gte=since["30d"]).aggregate(
        **{f"t_{n}": Count("pk", filter=Q(checked_at__gte=s)) for n, s in since.items()},
        **{f"u_{n}": Count("pk", filter=Q(checked_at__gte=s, ok=True)) for n, s in since.items()},
    )
    return {n: (round(100.0 * agg[f"u_{n}"] / agg[f"t_{n}"], 3) if agg[f"t_{n}"] else None) for n in WINDOWS}


def _interpolate(values: list[float], fraction: float) -> float:
    """The same definition as PostgreSQL's percentile_cont: linear between closest ranks."""
    position = fraction * (len(values) - 1)
    lo, hi = math.floor(position), math.ceil(position)
    return values[lo] + (values[hi] - values[lo]) * (position - lo)


def latency_percentiles(probe: Probe, *, since: datetime, fractions=(0.5, 0.95)) -> dict[float, float | None]:
    """Latency percentiles of successful results since ``since``: ``percentile_cont`` on
    PostgreSQL; elsewhere (SQLite) the sorted values are read and interpolated identically."""
    rows = ProbeResult.objects.filter(probe=probe, checked_at__gte=since, ok=True, latency_ms__isnull=False)
    if connection.vendor == "postgresql":
        agg = rows.aggregate(**{f"p{i}": PercentileCont("latency_ms", f) for i, f in enumerate(fractions)})
        return {
            f: (round(agg[f"p{i}"], 2) if agg[f"p{i}"] is not None else None) for i, f in enumerate(fractions)
        }
    values = list(rows.order_by("latency_ms").values_list("latency_ms", flat=True))
    if not values:
        return dict.fromkeys(fractions)
    return {f: round(_interpolate(values, f), 2) for f in fractions}


def sparklines(
    probe_ids: Iterable[int], *, points: int = SPARK_POINTS
) -> dict[int, list[tuple[float | None, bool]]]:
    """probe id -> its last ``points`` results as (latency, ok), oldest first. One query: a
    window function numbers each probe's results newest first and keeps the first N."""
    ids = list(probe_ids)
    if not ids:
        return {}
    ranked = (
        ProbeResult.objects.filter(probe_id__in=ids)
        .annotate(rank=Window(RowNumber(), partition_by=[F("probe_id")], order_by=F("checked_at").desc()))
        .filter(rank__lte=points)
        .order_by("probe_id", "checked_at")
        .values_list("probe_id", "latency_ms", "ok")
    )
    out: dict[int, list] = defaultdict(list)
    for probe_id, latency, ok in ranked:
        out[probe_id].append((latency, ok))
    return dict(out)


def recent_results(probe: Probe, limit: int = 50):
    return ProbeResult.objects.filter(probe=probe).order_by("-checked_at")[:limit]


def recent_events(probe: Probe, limit: int = 50):
    return ProbeEvent.objects.filter(probe=probe).order_by("-created_at", "-id")[:limit]


def sparkline_svg(series: list[tuple[float | None, bool]], *, width: int = 120, height: int = 24) -> str:
    """A small inline SVG: latency polyline plus a red tick under every failed result.
    Built from numbers only (no user text), so it is safe to mark as HTML."""
    if not series:
        return ""
    n = len(series)
    step = width / max(1, n - 1) if n > 1 else 0
    latencies = [lat for lat, _ in series if lat is not None]
    top = max(latencies) if latencies else 1.0
    top = top or 1.0
    points, ticks = [], []
    for i, (lat, ok) in enumerate(series):
        x = round(i * step, 1)
        if lat is not None:
            y = round((height - 4) - (lat / top) * (height - 6), 1)
            points.append(f"{x},{y}")
        if not ok:
            ticks.append(f'<rect x="{max(0, x - 1)}" y="{height - 3}" width="2" height="3" fill="#dc2626"/>')
    line = (
        f'<polyline fill="none" stroke="#2563eb" stroke-width="1.2" points="{" ".join(points)}"/>'
        if points
        else ""
    )
    ok_count = sum(1 for _, ok in series if ok)
    title = f"last {n} results: {ok_count} ok, {n - ok_count} failed; max {top:.0f} ms"
    return (
        f'<svg class="op-spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{title}"><title>{title}</title>{line}{"".join(ticks)}</svg>'
    )
