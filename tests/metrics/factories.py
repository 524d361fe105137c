"""Incidents with exact timestamps for metric tests and the benchmark.

Built directly (not through incidents.services) because metric tests need precise,
back-dated lifecycle timestamps; the rows still satisfy every check constraint."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Max

from incidents.models import Incident, Severity

_STATUS_FOR = {True: Incident.Status.RESOLVED, False: Incident.Status.INVESTIGATING}


def next_number() -> int:
    return (Incident.objects.aggregate(n=Max("number"))["n"] or 1000) + 1


def build(
    *,
    detected_at: datetime,
    ttd: float,
    tta: float | None = None,
    ttm: float | None = None,
    ttr: float | None = None,
    level: int = 2,
    source: str = Incident.DetectionSource.MONITORING,
    team=None,
    service=None,
    commander=None,
    number: int | None = None,
    severities: dict | None = None,
    **extra,
) -> Incident:
    """An unsaved incident. Durations in minutes: ttd = detected - started, tta = acknowledged
    - detected, ttm = mitigated - started, ttr = resolved - started (None: not reached)."""
    started_at = detected_at - timedelta(minutes=ttd)
    resolved = ttr is not None
    status = extra.pop("status", None) or (
        Incident.Status.MONITORING if ttm is not None and not resolved else _STATUS_FOR[resolved]
    )
    severity = (severities or {}).get(level) or Severity.objects.get(level=level)
    return Incident(
        number=number or next_number(),
        title=extra.pop("title", f"Incident detected {detected_at:%Y-%m-%d %H:%M}"),
        severity=severity,
        peak_severity=severity,
        status=status,
        detection_source=source,
        owning_team=team,
        primary_service=service,
        commander=commander if tta is not None else None,
        started_at=started_at,
        detected_at=detected_at,
        acknowledged_at=detected_at + timedelta(minutes=tta) if tta is not None else None,
        mitigated_at=started_at + timedelta(minutes=ttm) if ttm is not None else None,
        resolved_at=started_at + timedelta(minutes=ttr) if resolved else None,
        **extra,
    )


def create(**kwargs) -> Incident:
    services = kwargs.pop("services", ())
    incident = build(**kwargs)
    incident.save()
    if services:
        incident.services.set(services)
    return incident
