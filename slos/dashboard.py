"""The SLO panel of the admin dashboard: a context function rendered by
``templates/slos/dashboard_panel.html`` through the ``{% slo_panel %}`` tag. It reads the
figures the last sweep left (``selectors.statuses_from_snapshot``: 2 queries) or, without a
fresh snapshot, computes them (5 queries), + 1 for the burn-down charts of the SLOs shown,
whatever the number of SLOs or rollup rows."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

from django.db.models import Sum
from django.db.models.functions import TruncDay
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from slos import engine, permissions, selectors
from slos.models import SLO, SLIHour

PANEL_ROWS = 10


def burn_down(statuses: list[selectors.Status], now: datetime) -> dict[int, list[float]]:
    """slo id -> budget remaining at the end of each day of its window (whole hours; one query)."""
    if not statuses:
        return {}
    starts = {st.slo.pk: engine.floor_hour(engine.window_start(st.slo.window, now)) for st in statuses}
    rows = (
        SLIHour.objects.filter(slo_id__in=list(starts), hour__gte=min(starts.values()))
        .annotate(day=TruncDay("hour", tzinfo=UTC))
        .values("slo_id", "day")
        .annotate(g=Sum("good"), t=Sum("total"))
        .order_by("slo_id", "day")
    )
    days = defaultdict(list)
    for row in rows:
        if row["day"] >= starts[row["slo_id"]].replace(hour=0):
            days[row["slo_id"]].append((row["g"], row["t"]))
    out = {}
    for st in statuses:
        series = days.get(st.slo.pk, [])
        total = sum(t for _, t in series)
        allowed = engine.allowed_fraction(st.slo.objective) * total
        points, bad = [], 0
        for g, t in series:
            bad += t - g
            if total == 0:
                continue
            points.append(0.0 if allowed == 0 and bad else 1.0 if allowed == 0 else float(1 - bad / allowed))
        out[st.slo.pk] = points
    return out


def sparkline(points: list[float], *, width: int = 140, height: int = 30) -> str:
    """Budget burn-down as an inline SVG: 100 % at the top, 0 % on the dashed line."""
    if not points:
        return format_html('<span class="quiet">no data</span>')
    low = min(0.0, *points)
    span = 1.0 - low or 1.0
    step = width / max(1, len(points) - 1)

    def y(v):
        return round((1.0 - v) / span * (height - 2) + 1, 1)

    coords = " ".join(f"{round(i * step, 1)},{y(v)}" for i, v in enumerate(points))
    colour = "#ba2121" if points[-1] <= 0 else "#d98c00" if points[-1] < 0.25 else "#2e7d32"
    return format_html(
        '<svg class="slo-burndown" xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" viewBox="0 0 {} {}" '
        'role="img" aria-label="budget burn-down"><line x1="0" x2="{}" y1="{}" y2="{}" stroke="#999" '
        'stroke-dasharray="2,2"/><polyline fill="none" stroke="{}" stroke-width="1.5" points="{}"/></svg>',
        width, height, width, height, width, y(0.0), y(0.0), colour, coords,
    )  # fmt: skip


def panel(request, *, now: datetime | None = None) -> dict:
    user = getattr(request, "user", None)
    if not permissions.can_view(user):
        return {"visible": False}
    now = now or timezone.now()
    slos = list(SLO.objects.filter(is_active=True).select_related("service", "owner_team"))
    statuses = selectors.statuses_from_snapshot(slos, now) or selectors.statuses(slos, now=now)
    shown = statuses[:PANEL_ROWS]
    charts = burn_down(shown, now)
    rows = []
    for st in shown:
        rows.append(
            {
                "slo": st.slo,
                "objective": f"{st.slo.objective.normalize():f} %",
                "sli": "no data" if st.budget.sli is None else f"{st.budget.sli * 100:.3f} %",
                "remaining": selectors.fmt_pct(st.budget.remaining),
                "tone": "bad"
                if st.budget.exhausted
                else "warn"
                if (st.budget.remaining or 1) < 0.25
                else "ok",
                "burn": selectors.fmt_rate(st.burn_1h),
                "alerts": st.open_alerts,
                "chart": sparkline(charts.get(st.slo.pk, [])),
            }
        )
    exhausted = sum(1 for st in statuses if st.budget.exhausted)
    return {"visible": True, "rows": rows, "total": len(statuses), "exhausted": exhausted, "now": now}


def alerts_summary(alerts) -> str:
    return format_html_join(
        ", ", "{} {}", ((a.get_severity_display(), a.get_status_display().lower()) for a in alerts)
    )
