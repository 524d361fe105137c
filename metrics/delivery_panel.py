"""The dashboard's "Delivery" panel: its context (the same numbers as
/api/v1/metrics/delivery/, same filters as the rest of the dashboard) and its charts. The
dashboard template includes it with one line (``{% delivery_panel %}``)."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.utils import timezone

from metrics import charts, delivery
from metrics.forms import MetricFilterForm
from metrics.permissions import can_view, can_view_metrics
from opsportal import timeutil

COLOURS = {"succeeded": "#12b76a", "change failures": "#f04438"}


def build(request, *, now: datetime | None = None) -> dict:
    user = request.user
    if not (can_view_metrics(user) and can_view(user, "deployments.view_deployment")):
        return {"visible": False}
    now = now or timezone.now()
    form = MetricFilterForm(request.GET)
    if not form.is_valid():
        form = MetricFilterForm({})
        form.is_valid()
    report = delivery.delivery_report(form.filters(), now=now)
    tz = timeutil.zone(settings.TIME_ZONE)
    weeks = report["trends"]
    week_labels = [row["week_start"].astimezone(tz).strftime("%b %d") for row in weeks]
    days = report["by_weekday"]
    return {
        "visible": True,
        "report": report,
        "query_string": request.GET.urlencode(),
        "weekday_chart": charts.stacked_bars(
            "Deploys by weekday: succeeded and change failures",
            [d["weekday"] for d in days],
            {
                "succeeded": [d["completed"] - d["change_failures"] for d in days],
                "change failures": [d["change_failures"] for d in days],
            },
            COLOURS,
            unit="deploys",
            point="{label}",
        ),
        "weekly_chart": charts.stacked_bars(
            "Deploys per week",
            week_labels,
            {
                "succeeded": [w["completed"] - w["change_failures"] for w in weeks],
                "change failures": [w["change_failures"] for w in weeks],
            },
            COLOURS,
            unit="deploys",
        ),
        "lead_chart": charts.duration_lines(
            "Median lead time and time to restore",
            week_labels,
            {
                "lead time": [w["lead_time"]["median_seconds"] for w in weeks],
                "time to restore": [w["time_to_restore"]["median_seconds"] for w in weeks],
            },
            {"lead time": "#2e90fa", "time to restore": "#f79009"},
        ),
    }
