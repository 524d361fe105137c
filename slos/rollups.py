"""Writes to the SLI rollups (``SLIMinute`` and ``SLIHour``): the only code that touches them.

- Probe SLIs: :func:`on_results_recorded` adds each stored probe result to the minute (and
  hour) counters of every active probe SLO that selects its probe, inside the probe sweep's
  transaction: one query for the SLOs of the batch's probes, one for maintenance windows (only
  when some SLO is concerned), two upserts. Results inside a maintenance window of the probe or
  its service are not counted (neither good nor total).
- Prometheus and pushed SLIs, and re-computation: :func:`replace_minutes` replaces a range of
  minutes and re-sums the hours it touches (idempotent: the same input twice gives the same rows).
- :func:`recompute_from_results` rebuilds a probe SLO's minutes from the raw results still
  retained (PROBE_RESULT_RETENTION_DAYS) - after a maintenance window is added in the past,
  or after the SLO's probes changed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from django.db import connection, transaction
from django.db.models import Q, Sum
from django.db.models.functions import TruncHour

from probes.models import MaintenanceWindow, Probe, ProbeResult
from probes.services import window_active
from slos.engine import floor_hour, floor_minute
from slos.models import SLO, SLIHour, SLIMinute

PROBE_KINDS = (SLO.Kind.PROBE_AVAILABILITY, SLO.Kind.PROBE_LATENCY)


def is_good(
    kind: str, outcome: str, latency_ms: float | None, *, degraded_is_good: bool, threshold: int | None
) -> bool:
    if kind == SLO.Kind.PROBE_LATENCY:
        return (
            outcome != "down" and latency_ms is not None and threshold is not None and latency_ms < threshold
        )
    if outcome == "up":
        return True
    return outcome == "degraded" and degraded_is_good


def _windows(
    probe_service: dict[int, int], start: datetime, end: datetime
) -> dict[int, list[MaintenanceWindow]]:
    """probe id -> maintenance windows (own or its service's) that may overlap [start, end]."""
    windows = MaintenanceWindow.objects.filter(
        Q(probe_id__in=list(probe_service)) | Q(service_id__in=set(probe_service.values())),
        starts_at__lte=end,
    ).filter(Q(ends_at__isnull=True) | Q(ends_at__gt=start))
    by_probe: dict[int, list[MaintenanceWindow]] = defaultdict(list)
    service_probes: dict[int, list[int]] = defaultdict(list)
    for probe_id, service_id in probe_service.items():
        service_probes[service_id].append(probe_id)
    for w in windows:
        targets = [w.probe_id] if w.probe_id else service_probes.get(w.service_id, [])
        for probe_id in targets:
            by_probe[probe_id].append(w)
    return by_probe


def in_maintenance(windows: list[MaintenanceWindow], at: datetime) -> bool:
    return any(window_active(w, at) for w in windows)


def _count(links, results, probe_service) -> dict[tuple[int, datetime], list[int]]:
    """(slo id, minute) -> [good, total] for ``results`` of the linked probes."""
    by_probe = defaultdict(list)
    for slo_id, probe_id, kind, degraded_is_good, threshold in links:
        by_probe[probe_id].append((slo_id, kind, degraded_is_good, threshold))
    if not by_probe:
        return {}
    concerned = [r for r in results if r.probe_id in by_probe]
    if not concerned:
        return {}
    start = min(r.checked_at for r in concerned)
    end = max(r.checked_at for r in concerned)
    windows = _windows({p: probe_service[p] for p in {r.probe_id for r in concerned}}, start, end)
    counts: dict[tuple[int, datetime], list[int]] = {}
    for r in concerned:
        if windows.get(r.probe_id) and in_maintenance(windows[r.probe_id], r.checked_at):
            continue
        minute = floor_minute(r.checked_at)
        for slo_id, kind, degraded_is_good, threshold in by_probe[r.probe_id]:
            cell = counts.setdefault((slo_id, minute), [0, 0])
            cell[0] += is_good(
                kind, r.outcome, r.latency_ms, degraded_is_good=degraded_is_good, threshold=threshold
            )
            cell[1] += 1
    return counts


def _add(model, column: str, rows: list[tuple[int, datetime, int, int]]) -> None:
    """Upsert-and-add (PostgreSQL and SQLite both speak ON CONFLICT ... EXCLUDED)."""
    if not rows:
        return
    table = connection.ops.quote_name(model._meta.db_table)
    col = connection.ops.quote_name(column)
    values = ", ".join(["(%s, %s, %s, %s)"] * len(rows))
    sql = (
        f"INSERT INTO {table} (slo_id, {col}, good, total) VALUES {values} "  # noqa: S608 - names from metadata
        f"ON CONFLICT (slo_id, {col}) DO UPDATE SET good = {table}.good + EXCLUDED.good, "
        f"total = {table}.total + EXCLUDED.total"
    )
    params = [v for row in rows for v in row]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def add_counts(counts: dict[tuple[int, datetime], list[int]]) -> None:
    if not counts:
        return
    minutes = sorted((slo_id, minute, g, t) for (slo_id, minute), (g, t) in counts.items())
    hours: dict[tuple[int, datetime], list[int]] = {}
    for slo_id, minute, g, t in minutes:
        cell = hours.setdefault((slo_id, floor_hour(minute)), [0, 0])
        cell[0] += g
        cell[1] += t
    # Sorted keys: two sweeps adding to the same rows lock them in the same order (no deadlock).
    _add(SLIMinute, "minute", minutes)
    _add(SLIHour, "hour", sorted((s, h, g, t) for (s, h), (g, t) in hours.items()))


def on_results_recorded(sender, *, results: list[ProbeResult], **kwargs) -> None:
    if not results:
        return
    probe_ids = {r.probe_id for r in results}
    links = list(
        SLO.probes.through.objects.filter(
            probe_id__in=probe_ids, slo__is_active=True, slo__kind__in=PROBE_KINDS
        ).values_list("slo_id", "probe_id", "slo__kind", "slo__degraded_is_good", "slo__latency_threshold_ms")
    )
    if not links:
        return
    probe_service = {}
    for r in results:
        probe = r._state.fields_cache.get("probe")  # record_outcomes built them with their probe
        if probe is not None:
            probe_service[r.probe_id] = probe.service_id
    missing = probe_ids - set(probe_service)
    if missing:
        probe_service.update(Probe.objects.filter(pk__in=missing).values_list("pk", "service_id"))
    add_counts(_count(links, results, probe_service))


@transaction.atomic
def replace_minutes(
    slo_id: int, start: datetime, end: datetime, minutes: dict[datetime, tuple[int, int]]
) -> int:
    """Make [start, end) hold exactly ``minutes`` (minute -> (good, total)); minutes without
    events are not stored. Re-sums every hour the range touches. Returns rows written."""
    start, end = floor_minute(start), floor_minute(end)
    SLIMinute.objects.filter(slo_id=slo_id, minute__gte=start, minute__lt=end).delete()
    rows = [
        SLIMinute(slo_id=slo_id, minute=m, good=min(max(g, 0), max(t, 0)), total=max(t, 0))
        for m, (g, t) in sorted(minutes.items())
        if start <= m < end and t > 0
    ]
    SLIMinute.objects.bulk_create(rows, batch_size=2000)
    resum_hours(slo_id, floor_hour(start), floor_hour(end - timedelta(microseconds=1)) + timedelta(hours=1))
    return len(rows)


def resum_hours(slo_id: int, start: datetime, end: datetime) -> None:
    SLIHour.objects.filter(slo_id=slo_id, hour__gte=start, hour__lt=end).delete()
    sums = (
        SLIMinute.objects.filter(slo_id=slo_id, minute__gte=start, minute__lt=end)
        .annotate(h=TruncHour("minute", tzinfo=UTC))
        .values("h")
        .annotate(g=Sum("good"), t=Sum("total"))
        .order_by("h")
    )
    SLIHour.objects.bulk_create(
        [SLIHour(slo_id=slo_id, hour=row["h"], good=row["g"], total=row["t"]) for row in sums]
    )


def minutes_from_results(slo: SLO, start: datetime, end: datetime) -> dict[datetime, tuple[int, int]]:
    """Per-minute good/total of a probe SLO from raw results in [start, end), maintenance
    windows excluded (also the admin's preview, before the SLO is saved)."""
    probes = list(slo.probes.all()) if slo.pk else list(getattr(slo, "_preview_probes", []))
    return minutes_for_probes(
        probes,
        start,
        end,
        kind=slo.kind,
        degraded_is_good=slo.degraded_is_good,
        threshold=slo.latency_threshold_ms,
    )


def minutes_for_probes(
    probes: Iterable[Probe], start: datetime, end: datetime, *, kind: str, degraded_is_good: bool, threshold
) -> dict[datetime, tuple[int, int]]:
    probe_service = {p.pk: p.service_id for p in probes}
    if not probe_service:
        return {}
    windows = _windows(probe_service, start, end)
    counts: dict[datetime, list[int]] = {}
    rows = (
        ProbeResult.objects.filter(
            probe_id__in=list(probe_service),
            source=ProbeResult.Source.CHECK,
            checked_at__gte=start,
            checked_at__lt=end,
        )
        .values_list("probe_id", "checked_at", "outcome", "latency_ms")
        .iterator(chunk_size=5000)
    )
    for probe_id, checked_at, outcome, latency_ms in rows:
        if windows.get(probe_id) and in_maintenance(windows[probe_id], checked_at):
            continue
        cell = counts.setdefault(floor_minute(checked_at), [0, 0])
        cell[0] += is_good(kind, outcome, latency_ms, degraded_is_good=degraded_is_good, threshold=threshold)
        cell[1] += 1
    return {m: (g, t) for m, (g, t) in counts.items()}


def recompute_from_results(slo: SLO, start: datetime, end: datetime) -> int:
    """Rebuild a probe SLO's rollups over [start, end) from the raw results (maintenance
    windows applied as they are now). Raw results older than the retention are gone, so
    minutes before it are left as they are."""
    if not slo.uses_probes:
        return 0
    return replace_minutes(slo.pk, start, end, minutes_from_results(slo, start, end))
