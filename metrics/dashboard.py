"""The admin index as an operations dashboard: builds the template context from
metrics.selectors (the same numbers as /api/v1/metrics/). Every panel runs a fixed number
of queries, and only for people allowed to see it."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.utils import timezone

from incidents.models import Incident
from metrics import charts, selectors
from metrics.forms import MetricFilterForm
from metrics.permissions import can_view, can_view_metrics
from opsportal import timeutil

SOURCE_LABELS = dict(Incident.DetectionSource.choices)


def build(request, *, now: datetime | None = None) -> dict:
    now = now or timezone.now()
    user = request.user
    if not can_view_metrics(user):
        return {"visible": False}
    form = MetricFilterForm(request.GET)
    invalid = not form.is_valid()
    if invalid:
        fallback = MetricFilterForm({})
        fallback.is_valid()
        start, end, filters = fallback.cleaned_data["start"], fallback.cleaned_data["end"], fallback.filters()
    else:
        start, end, filters = form.cleaned_data["start"], form.cleaned_data["end"], form.filters()
    report = selectors.report(filters)
    context = {
        "visible": True,
        "form": form,
        "invalid": invalid,
        "filtered": any(request.GET.get(k) for k in ("team", "service", "severity", "detection_source")),
        "filters": filters,
        "start": start,
        "end": end,
        "report": report,
        "metric_rows": [
            {"key": key, "label": selectors.LABELS[key], "definition": selectors.DEFINITIONS[key], **stats}
            for key, stats in report["metrics"].items()
        ],
        "ttd_by_source": [
            {"source": source, "label": SOURCE_LABELS[source], **stats}
            for source, stats in report["time_to_detect_by_source"].items()
        ],
        "common_rules": selectors.COMMON_RULES,
        "query_string": request.GET.urlencode(),
        "now": now,
        "open": selectors.open_incidents(filters, now=now),
        "charts": _charts(filters, now),
    }
    if can_view(user, "oncall.view_schedule"):
        context["on_call"] = selectors.on_call_now(filters, now=now)
        context["pages_awaiting_ack"] = selectors.pages_awaiting_ack(filters)
    if can_view(user, "probes.view_probe"):
        context["probes"] = selectors.probes_needing_attention(filters)
    if can_view(user, "escalations.view_escalation"):
        context["escalations"] = selectors.escalations_awaiting_ack(filters, now=now)
    if can_view(user, "postmortems.view_postmortem"):
        context["followups"] = selectors.overdue_followups(filters, now=now)
    if can_view(user, "readiness.view_release"):
        context["releases"] = selectors.upcoming_releases(filters, now=now)
        context["viewer_tz"] = timeutil.zone(getattr(user, "time_zone", "") or settings.TIME_ZONE)
    return context


def _charts(filters: selectors.Filters, now: datetime) -> dict:
    trend = selectors.trends(filters, now=now)
    tz = timeutil.zone(settings.TIME_ZONE)
    labels = [row["week_start"].astimezone(tz).strftime("%b %d") for row in trend["weeks"]]
    severities = ["SEV-1", "SEV-2", "SEV-3", "SEV-4"]
    return {
        "per_week": charts.stacked_bars(
            "Incidents per week by severity",
            labels,
            {sev: [row["by_severity"][sev] for row in trend["weeks"]] for sev in severities},
            charts.SEVERITY_COLOURS,
        ),
        "resolve": charts.duration_lines(
            "Median time to resolve",
            labels,
            {"MTTR": [row["median_time_to_resolve"] for row in trend["weeks"]]},
            {"MTTR": "#12b76a"},
        ),
        "detect": charts.duration_lines(
            "Median time to detect by source",
            labels,
            {
                source: [row["median_time_to_detect"][source] for row in trend["weeks"]]
                for source in Incident.DetectionSource.values
            },
            charts.SOURCE_COLOURS,
        ),
    }
