"""Operational metrics: the ONE place where MTTD, MTTA, MTTM, MTTR, customer impact and
incident frequency are defined and computed. The dashboard, the API, the CSV export and the
benchmark all call these functions, so the numbers are identical everywhere.

Definitions (``DEFINITIONS`` below is what the README, the dashboard help and the OpenAPI
schema show):

- time to detect = detected_at - started_at
- time to acknowledge = acknowledged_at - detected_at
- time to mitigate = mitigated_at - started_at
- time to resolve = resolved_at - started_at
- customer impact duration = (mitigated_at or resolved_at) - started_at, for incidents with
  customer impact (a customer impact text, customers affected > 0 or customers reporting it
  through support)
- frequency = number of incidents per week (or period) by severity, service and team

An incident belongs to a period by its ``detected_at`` (the ``incidents_team_detected`` and
``incidents_detected_desc`` indexes serve the range). Drills never count. An incident missing
a timestamp a metric needs is left out of that metric and counted in its ``excluded``.
Weeks (per_week, trends) are local: Monday 00:00 to Monday 00:00 wall time in TIME_ZONE
(``local_week``), never fixed 7 x 24 h steps.

Everything is aggregated in the database. PostgreSQL computes mean, median and p90 with
``avg`` and ``percentile_cont`` in one query; SQLite (no percentile functions) gets the same
``percentile_cont`` answer (linear interpolation between the two closest ranks) from one
window-function query that returns at most four rows per series and group.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection
from django.db.models import (
    Aggregate,
    Avg,
    Case,
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    Field,
    FloatField,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce, TruncWeek
from django.utils import timezone

from incidents.models import Incident
from opsportal import timeutil
from opsportal.db import count_subquery

PERCENTILES = {"median": 0.5, "p90": 0.9}
TREND_WEEKS = 12
DEFAULT_PERIOD_DAYS = 30

DEFINITIONS: dict[str, str] = {
    "time_to_detect": "detected_at - started_at: how long impact went unnoticed.",
    "time_to_acknowledge": "acknowledged_at - detected_at: how long until a responder took it.",
    "time_to_mitigate": "mitigated_at - started_at: how long customers felt it before mitigation.",
    "time_to_resolve": "resolved_at - started_at: from the start of impact to resolution.",
    "customer_impact_duration": (
        "(mitigated_at or resolved_at) - started_at, for incidents with customer impact "
        "(impact described, customers affected > 0, or customers reporting it through support)."
    ),
    "frequency": "Number of incidents (detected in the period) per week and by severity, service and team.",
}
LABELS = {
    "time_to_detect": "Time to detect (MTTD)",
    "time_to_acknowledge": "Time to acknowledge (MTTA)",
    "time_to_mitigate": "Time to mitigate (MTTM)",
    "time_to_resolve": "Time to resolve (MTTR)",
    "customer_impact_duration": "Customer impact duration",
}
COMMON_RULES = (
    "Incidents count in the period they were detected in; drills are excluded; an incident "
    "missing a timestamp a metric needs is excluded from that metric and counted as excluded. "
    "Mean, median and p90 (continuous percentile, linear interpolation) are in seconds."
)


# ---------------------------------------------------------------------------------------
# Database expressions
# ---------------------------------------------------------------------------------------
class Seconds(Func):
    """``end - start`` in seconds (float), NULL when either is NULL."""

    arity = 2
    output_field = FloatField()

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(
            compiler,
            connection,
            template="EXTRACT(EPOCH FROM (%(expressions)s))::double precision",
            arg_joiner=" - ",
            **extra,
        )

    def as_sqlite(self, compiler, connection, **extra):
        # julianday() carries ~50 microseconds of float noise: round to milliseconds.
        return self.as_sql(
            compiler,
            connection,
            template="(ROUND((julianday(%(expressions)s)) * 86400000.0) / 1000.0)",
            arg_joiner=") - julianday(",
            **extra,
        )


def local_zone() -> ZoneInfo:
    """The zone weeks and days are counted in (TIME_ZONE)."""
    return timeutil.zone(settings.TIME_ZONE)


def local_week(field_name: str = "detected_at") -> TruncWeek:
    """The local week of ``field_name``, computed by the database: Monday 00:00 wall time in
    TIME_ZONE (PostgreSQL ``date_trunc('week', field AT TIME ZONE zone)``; SQLite through
    Django's zoneinfo-backed function). Read back as an aware datetime whose ``.date()`` is
    the local Monday; ``week_key`` turns it into that date."""
    return TruncWeek(field_name, tzinfo=local_zone())


def week_key(value: datetime) -> date:
    """A ``local_week`` value -> its local Monday (the wall date it carries in TIME_ZONE)."""
    return value.date()


class PercentileCont(Aggregate):
    """PostgreSQL ``percentile_cont(ARRAY[p, ...]) WITHIN GROUP (ORDER BY expr)``: every
    fraction from one sort, as a list (NULLs ignored; NULL when there are no values)."""

    function = "percentile_cont"
    template = (
        "%(function)s(ARRAY[%(fractions)s]::double precision[]) WITHIN GROUP (ORDER BY %(expressions)s)"
    )
    output_field = Field()

    def __init__(self, expression, fractions: tuple[float, ...], **extra):
        if not fractions or not all(0 <= f <= 1 for f in fractions):
            raise ValueError("fractions must be within 0..1")
        super().__init__(expression, fractions=", ".join(repr(float(f)) for f in fractions), **extra)


HAS_CUSTOMER_IMPACT = ~Q(customer_impact="") | Q(customers_affected__gt=0) | Q(reported_customers__gt=0)


@dataclass(frozen=True)
class Metric:
    key: str
    value: object  # expression giving seconds, NULL when a timestamp is missing
    scope: Q  # which incidents the metric is about (all, or those with customer impact)


def _spans() -> dict[str, tuple[object, object, Q | None]]:
    """metric -> (end, start, only for incidents matching): the definitions above, once."""
    return {
        "time_to_detect": (F("detected_at"), F("started_at"), None),
        "time_to_acknowledge": (F("acknowledged_at"), F("detected_at"), None),
        "time_to_mitigate": (F("mitigated_at"), F("started_at"), None),
        "time_to_resolve": (F("resolved_at"), F("started_at"), None),
        "customer_impact_duration": (
            Coalesce(F("mitigated_at"), F("resolved_at")),
            F("started_at"),
            HAS_CUSTOMER_IMPACT,
        ),
    }


def metric_expressions() -> dict[str, object]:
    """metric -> seconds as a float (what the statistics aggregate)."""
    out = {}
    for key, (end, start, only) in _spans().items():
        value = Seconds(end, start)
        out[key] = Case(When(only, then=value), output_field=FloatField()) if only is not None else value
    return out


def duration_expressions() -> dict[str, object]:
    """metric -> the exact duration (a timedelta to the microsecond: PostgreSQL subtracts
    timestamps into an interval, SQLite through Django's timestamp difference in
    microseconds), for per-incident rows."""
    out = {}
    for key, (end, start, only) in _spans().items():
        value = ExpressionWrapper(end - start, output_field=DurationField())
        out[key] = Case(When(only, then=value), output_field=DurationField()) if only is not None else value
    return out


def exact_seconds(duration: timedelta) -> Decimal:
    """A duration in seconds, exactly: whole seconds print as integers (1123457), fractions
    as many decimals as they need (2345678.25, 0.000001)."""
    micro = duration // timedelta(microseconds=1)
    if micro % 1_000_000 == 0:
        return Decimal(micro // 1_000_000)
    return Decimal(micro).scaleb(-6).normalize()  # str() stays plain: at most 6 decimals


def metrics() -> list[Metric]:
    exprs = metric_expressions()
    return [
        Metric(key, exprs[key], HAS_CUSTOMER_IMPACT if key == "customer_impact_duration" else Q())
        for key in LABELS
    ]


# ---------------------------------------------------------------------------------------
# Filters
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Filters:
    """What to count: incidents detected in [start, end), optionally one team, one service
    (primary or affected), one severity level and one detection source."""

    start: datetime
    end: datetime
    team_id: int | None = None
    service_id: int | None = None
    severity: int | None = None
    detection_source: str | None = None


def day_start(day: date) -> datetime:
    """Midnight of ``day`` in the portal's TIME_ZONE, as an aware datetime."""
    return datetime.combine(day, time.min, tzinfo=timeutil.zone(settings.TIME_ZONE))


def default_period(now: datetime | None = None) -> tuple[date, date]:
    """The last 30 days, today included (local dates in TIME_ZONE)."""
    today = timezone.localtime(now or timezone.now(), timeutil.zone(settings.TIME_ZONE)).date()
    return today - timedelta(days=DEFAULT_PERIOD_DAYS - 1), today


def incident_scope(filters: Filters, *, period: bool = True) -> QuerySet[Incident]:
    """Real (non-drill) incidents matching the filters; every metric starts here."""
    qs = Incident.objects.real().order_by()
    if period:
        qs = qs.filter(detected_at__gte=filters.start, detected_at__lt=filters.end)
    return apply_dimensions(qs, filters)


def apply_dimensions(qs: QuerySet[Incident], filters: Filters) -> QuerySet[Incident]:
    if filters.team_id:
        qs = qs.filter(owning_team_id=filters.team_id)
    if filters.service_id:
        affected = Incident.services.through.objects.filter(
            incident_id=OuterRef("pk"), service_id=filters.service_id
        )
        qs = qs.filter(Q(primary_service_id=filters.service_id) | Exists(affected))
    if filters.severity:
        qs = qs.filter(severity__level=filters.severity)
    if filters.detection_source:
        qs = qs.filter(detection_source=filters.detection_source)
    return qs


# ---------------------------------------------------------------------------------------
# The statistics engine
# ---------------------------------------------------------------------------------------
@dataclass
class Stats:
    count: int = 0
    excluded: int = 0
    mean: float | None = None
    median: float | None = None
    p90: float | None = None

    def as_dict(self) -> dict:
        return {
            "count": self.count,
            "excluded": self.excluded,
            "mean_seconds": _round(self.mean),
            "median_seconds": _round(self.median),
            "p90_seconds": _round(self.p90),
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 3)


@dataclass(frozen=True)
class Series:
    """One distribution to describe: ``value`` over the incidents in ``scope``."""

    key: str
    value: object
    scope: Q = field(default_factory=Q)
    percentiles: bool = True


def _is_postgresql() -> bool:
    return connection.vendor == "postgresql"


def describe(qs: QuerySet, series: list[Series], *, group=None) -> dict[object, dict[str, Stats]]:
    """group value (None when ungrouped) -> series key -> Stats.

    PostgreSQL: one query. SQLite: one aggregate query plus one window-function query for
    the percentiles. Never a loop over the incidents themselves.
    """
    aggregates = {}
    for i, s in enumerate(series):
        aggregates[f"s{i}_scope"] = Count("pk", filter=s.scope or None)
        aggregates[f"s{i}_n"] = Count(s.value, filter=s.scope or None)
        aggregates[f"s{i}_mean"] = Avg(s.value, filter=s.scope or None)
        if _is_postgresql() and s.percentiles:
            aggregates[f"s{i}_pct"] = PercentileCont(
                s.value, tuple(PERCENTILES.values()), filter=s.scope or None
            )
    if group is None:
        rows = [{"_g": None, **qs.aggregate(**aggregates)}]
    else:
        rows = list(qs.annotate(_g=group).values("_g").annotate(**aggregates).order_by("_g"))
    out: dict[object, dict[str, Stats]] = {}
    for row in rows:
        per = out.setdefault(row["_g"], {})
        for i, s in enumerate(series):
            n = row[f"s{i}_n"] or 0
            median, p90 = row.get(f"s{i}_pct") or (None, None)
            per[s.key] = Stats(
                count=n,
                excluded=(row[f"s{i}_scope"] or 0) - n,
                mean=row[f"s{i}_mean"],
                median=median,
                p90=p90,
            )
    if not _is_postgresql() and any(st.count for per in out.values() for st in per.values()):
        for (g, key), values in _percentiles_by_window(qs, series, group).items():
            stats = out.get(g, {}).get(key)
            if stats is not None:
                stats.median, stats.p90 = values["median"], values["p90"]
    return out


def _percentiles_by_window(qs: QuerySet, series: list[Series], group) -> dict[tuple, dict[str, float]]:
    """percentile_cont without a percentile function: rank each value within its (series,
    group) partition and keep only the ranks the percentiles interpolate between. Portable
    SQL (the tests check it against PostgreSQL's percentile_cont on the same rows)."""
    parts, params = [], []
    convert_group = None
    for i, s in enumerate(series):
        if not s.percentiles:
            continue
        inner = (
            qs.filter(s.scope)
            .annotate(_v=s.value, _g=group if group is not None else Value(0))
            .filter(_v__isnull=False)
            .values("_g", "_v")
        )
        convert_group = convert_group or _converter(inner.query.annotations["_g"])
        sql, p = inner.query.sql_with_params()
        # sql is Django's own compilation (values stay in params); i is a loop index.
        parts.append(f'SELECT {i} AS k, "_g" AS g, "_v" AS v FROM ({sql}) AS series_{i}')  # noqa: S608
        params.extend(p)
    if not parts:
        return {}
    wanted = " OR ".join(
        f"(rn - 1 BETWEEN CAST(FLOOR((n - 1) * {fraction!r}) AS INTEGER) "
        f"AND CAST(FLOOR((n - 1) * {fraction!r}) AS INTEGER) + 1)"
        for fraction in PERCENTILES.values()
    )
    # Only the parts above and constant fractions are interpolated; values stay in params.
    sql = (
        "SELECT k, g, rn, n, v FROM ("  # noqa: S608
        "SELECT k, g, v, ROW_NUMBER() OVER (PARTITION BY k, g ORDER BY v) AS rn, "
        "COUNT(*) OVER (PARTITION BY k, g) AS n FROM (" + " UNION ALL ".join(parts) + ") AS all_series"
        f") AS ranked WHERE {wanted} ORDER BY k, g, rn"
    )
    ranks: dict[tuple, dict[int, float]] = defaultdict(dict)
    sizes: dict[tuple, int] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for k, g, rn, n, v in cursor.fetchall():
            key = (None if group is None else convert_group(g), series[k].key)
            ranks[key][rn - 1] = float(v)
            sizes[key] = n
    out = {}
    for key, by_rank in ranks.items():
        n = sizes[key]
        out[key] = {name: _interpolate(by_rank, n, fraction) for name, fraction in PERCENTILES.items()}
    return out


def _converter(expression):
    """Raw database value -> what the ORM returns for ``expression`` (a local_week group
    comes back from raw SQL as a naive timestamp or a string), so the fallback's groups are
    the same keys as the aggregate query's."""
    converters = connection.ops.get_db_converters(expression) + expression.get_db_converters(connection)

    def convert(value):
        for fn in converters:
            value = fn(value, expression, connection)
        return value

    return convert


def _interpolate(by_rank: dict[int, float], n: int, fraction: float) -> float:
    """PostgreSQL's percentile_cont: position (n - 1) * fraction, linear between neighbours."""
    h = (n - 1) * fraction
    lo = int(h)
    low = by_rank[lo]
    high = by_rank.get(lo + 1, low)
    return low + (h - lo) * (high - low) if not math.isclose(h, lo) else low


# ---------------------------------------------------------------------------------------
# Public selectors
# ---------------------------------------------------------------------------------------
def _mttd_series() -> list[Series]:
    ttd = metric_expressions()["time_to_detect"]
    return [
        Series(f"ttd_{source}", ttd, Q(detection_source=source)) for source in Incident.DetectionSource.values
    ]


def summary(filters: Filters) -> dict:
    """Every metric for the period: {metric: Stats}, MTTD by detection source, and the
    number of incidents counted. One query on PostgreSQL, two on SQLite."""
    series = [Series(m.key, m.value, m.scope) for m in metrics()] + _mttd_series()
    qs = incident_scope(filters)
    stats = describe(qs, series).get(None, {})
    return {
        "metrics": {m.key: stats.get(m.key, Stats()) for m in metrics()},
        "time_to_detect_by_source": {
            source: stats.get(f"ttd_{source}", Stats()) for source in Incident.DetectionSource.values
        },
        "incidents": stats["time_to_detect"].count + stats["time_to_detect"].excluded if stats else 0,
    }


def frequency(filters: Filters, *, limit: int = 10) -> dict:
    """Incident counts in the period: total, by severity, team (top ``limit``), service (top
    ``limit``, an incident counts for each service it affected) and per local week (Monday
    00:00 in TIME_ZONE; the first and last weeks count only the period's days). Four grouped
    queries."""
    qs = incident_scope(filters)
    by_severity = {
        row["severity__level"]: row["n"]
        for row in qs.values("severity__level").annotate(n=Count("pk")).order_by("severity__level")
    }
    by_team = [
        {"team_id": row["owning_team_id"], "team": row["owning_team__name"] or "No team", "count": row["n"]}
        for row in qs.values("owning_team_id", "owning_team__name")
        .annotate(n=Count("pk"))
        .order_by("-n")[:limit]
    ]
    through = Incident.services.through
    by_service = [
        {"service_id": row["service_id"], "service": row["service__name"], "count": row["n"]}
        for row in through.objects.filter(incident__in=qs.values("pk"))
        .values("service_id", "service__name")
        .annotate(n=Count("incident_id"))
        .order_by("-n", "service__name")[:limit]
    ]
    weekly = {
        week_key(w): n
        for w, n in qs.annotate(w=local_week()).values("w").annotate(n=Count("pk")).values_list("w", "n")
    }
    zone = local_zone()
    return {
        "total": sum(by_severity.values()),
        "by_severity": [{"severity": f"SEV-{lvl}", "count": n} for lvl, n in sorted(by_severity.items())],
        "by_team": by_team,
        "by_service": by_service,
        "per_week": [
            {"week_start": timeutil.localize(monday, time.min, zone), "count": weekly.get(monday, 0)}
            for monday in timeutil.week_mondays(filters.start, filters.end, zone)
        ],
    }


def report(filters: Filters) -> dict:
    """Everything the API returns and the dashboard shows for a period: summary (mean,
    median, p90, counts, exclusions), MTTD by detection source and frequency."""
    result = summary(filters)
    return {
        "period": {"start": filters.start, "end": filters.end},
        "filters": {
            "team": filters.team_id,
            "service": filters.service_id,
            "severity": filters.severity,
            "detection_source": filters.detection_source,
        },
        "incidents": result["incidents"],
        "metrics": {key: stats.as_dict() for key, stats in result["metrics"].items()},
        "time_to_detect_by_source": {k: s.as_dict() for k, s in result["time_to_detect_by_source"].items()},
        "frequency": frequency(filters),
        "definitions": DEFINITIONS,
    }


def trend_mondays(now: datetime | None = None, weeks: int = TREND_WEEKS) -> list[date]:
    """The local Mondays (TIME_ZONE) of the last ``weeks`` weeks, this week included."""
    this_week = timeutil.week_monday(timezone.localtime(now or timezone.now(), local_zone()).date())
    return [this_week - timedelta(weeks=weeks - 1 - i) for i in range(weeks)]


def trend_origin(now: datetime | None = None, weeks: int = TREND_WEEKS) -> datetime:
    """Monday 00:00 (TIME_ZONE) of the first of the last ``weeks`` weeks, this week included."""
    return timeutil.localize(trend_mondays(now, weeks)[0], time.min, local_zone())


def trends(filters: Filters, *, now: datetime | None = None, weeks: int = TREND_WEEKS) -> dict:
    """The last ``weeks`` local weeks (ignoring the period filter, keeping the others):
    incidents per week by severity, median time to resolve and median time to detect by
    detection source, by detection week (``local_week``: Monday 00:00 in TIME_ZONE, so a
    week is 167 or 169 hours long across a DST change). One query on PostgreSQL, two on
    SQLite."""
    zone = local_zone()
    mondays = trend_mondays(now, weeks)
    origin = timeutil.localize(mondays[0], time.min, zone)
    qs = apply_dimensions(Incident.objects.real().order_by().filter(detected_at__gte=origin), filters)
    exprs = metric_expressions()
    series = [Series("time_to_resolve", exprs["time_to_resolve"]), *_mttd_series()]
    series += [
        Series(f"sev{lvl}", Case(When(severity__level=lvl, then=Value(1.0))), percentiles=False)
        for lvl in (1, 2, 3, 4)
    ]
    grouped = {week_key(g): per for g, per in describe(qs, series, group=local_week()).items()}
    rows = []
    for monday in mondays:
        per = grouped.get(monday, {})
        rows.append(
            {
                "week_start": timeutil.localize(monday, time.min, zone),
                "by_severity": {f"SEV-{lvl}": per[f"sev{lvl}"].count if per else 0 for lvl in (1, 2, 3, 4)},
                "median_time_to_resolve": per["time_to_resolve"].median if per else None,
                "median_time_to_detect": {
                    source: per[f"ttd_{source}"].median if per else None
                    for source in Incident.DetectionSource.values
                },
            }
        )
    return {"weeks": rows, "origin": origin}


def incident_rows(filters: Filters) -> QuerySet:
    """Per-incident metric rows for the CSV export (streamed with .iterator()): each metric
    as ``<metric>_duration``, an exact timedelta (``exact_seconds`` prints it)."""
    exprs = duration_expressions()
    return (
        incident_scope(filters)
        .annotate(
            has_customer_impact=Case(When(HAS_CUSTOMER_IMPACT, then=Value(True)), default=Value(False)),
            **{f"{key}_duration": expr for key, expr in exprs.items()},
        )
        .order_by("detected_at", "id")
        .values(
            "number",
            "title",
            "severity__level",
            "status",
            "detection_source",
            "owning_team__name",
            "primary_service__name",
            "started_at",
            "detected_at",
            "acknowledged_at",
            "mitigated_at",
            "resolved_at",
            "has_customer_impact",
            "customers_affected",
            *(f"{key}_duration" for key in exprs),
        )
    )


# ---------------------------------------------------------------------------------------
# Current state: what the dashboard's panels and the Prometheus gauges show
# ---------------------------------------------------------------------------------------
PANEL_LIMIT = 10


@dataclass
class OpenIncidentRow:
    incident: Incident
    age: timedelta
    update_due_at: datetime | None
    update_overdue: bool


def open_incidents(filters: Filters, *, now: datetime, limit: int = PANEL_LIMIT) -> dict:
    """Open real incidents: counts by severity (one query) and the oldest-first list of the
    most severe ones (one query; partial index incidents_open_by_severity)."""
    qs = apply_dimensions(Incident.objects.open().real().order_by(), filters)
    counts = dict(
        qs.values_list("severity__level").annotate(n=Count("pk")).values_list("severity__level", "n")
    )
    rows = []
    for incident in qs.select_related("severity", "owning_team", "commander").order_by(
        "severity__level", "detected_at", "id"
    )[:limit]:
        due = incident.next_update_due_at()
        rows.append(OpenIncidentRow(incident, now - incident.started_at, due, due is not None and due < now))
    return {
        "by_severity": [{"severity": f"SEV-{lvl}", "count": counts.get(lvl, 0)} for lvl in (1, 2, 3, 4)],
        "total": sum(counts.values()),
        "rows": rows,
    }


def open_incident_counts() -> dict[str, int]:
    counts = dict(
        Incident.objects.open()
        .real()
        .order_by()
        .values("severity__level")
        .annotate(n=Count("pk"))
        .values_list("severity__level", "n")
    )
    return {f"SEV-{lvl}": counts.get(lvl, 0) for lvl in (1, 2, 3, 4)}


def on_call_now(filters: Filters, *, now: datetime) -> list[dict]:
    """Per team, each schedule and who is on call on it now (oncall.selectors.on_call: a
    fixed number of queries whatever the number of schedules)."""
    from oncall import selectors as oncall_selectors
    from oncall.models import Schedule

    schedules = Schedule.objects.select_related("team").order_by("team__name", "name")
    if filters.team_id:
        schedules = schedules.filter(team_id=filters.team_id)
    schedules = list(schedules)
    answers = oncall_selectors.on_call([s.pk for s in schedules], now) if schedules else {}
    teams: dict[int, dict] = {}
    for schedule in schedules:
        answer = answers.get(schedule.pk)
        entry = teams.setdefault(schedule.team_id, {"team": schedule.team, "schedules": []})
        entry["schedules"].append(
            {
                "schedule": schedule,
                "user": answer.user if answer else None,
                "until": answer.shift.end if answer and answer.shift else None,
            }
        )
    return list(teams.values())


def probes_needing_attention(filters: Filters, *, limit: int = PANEL_LIMIT) -> dict:
    from probes.models import Probe

    qs = Probe.objects.order_by()
    if filters.team_id:
        qs = qs.filter(service__owner_team_id=filters.team_id)
    if filters.service_id:
        qs = qs.filter(service_id=filters.service_id)
    counts = dict(qs.values("state").annotate(n=Count("pk")).values_list("state", "n"))
    bad = [Probe.State.DOWN, Probe.State.DEGRADED]
    rows = list(
        qs.filter(state__in=bad)
        .select_related("service")
        .order_by(Case(When(state=Probe.State.DOWN, then=0), default=1), "state_changed_at", "id")[:limit]
    )
    no_verdict = counts.get(Probe.State.NEW, 0)  # never produced a verdict: not "up"
    paused = counts.get(Probe.State.PAUSED, 0)
    return {
        "by_state": {state: counts.get(state, 0) for state in Probe.State.values},
        "attention": sum(counts.get(s, 0) for s in bad),
        "rows": rows,
        "no_verdict": no_verdict,
        "paused": paused,
        # "All probes up" must be true: every probe has a verdict and it is up
        "all_up": bool(counts) and not rows and counts.get(Probe.State.UP, 0) == sum(counts.values()),
    }


def probe_counts() -> dict[str, int]:
    from probes.models import Probe

    counts = dict(Probe.objects.order_by().values("state").annotate(n=Count("pk")).values_list("state", "n"))
    return {state: counts.get(state, 0) for state in Probe.State.values}


def escalations_awaiting_ack(filters: Filters, *, now: datetime, limit: int = PANEL_LIMIT) -> dict:
    from escalations.models import Escalation

    qs = Escalation.objects.unacknowledged().order_by()
    if filters.team_id:
        qs = qs.filter(service__owner_team_id=filters.team_id)
    if filters.service_id:
        qs = qs.filter(service_id=filters.service_id)
    agg = qs.aggregate(total=Count("pk"), late=Count("pk", filter=Q(ack_due_at__lt=now)))
    rows = list(qs.select_related("service").order_by("ack_due_at", "id")[:limit])
    return {"total": agg["total"], "late": agg["late"], "rows": rows}


def pages_awaiting_ack(filters: Filters | None = None) -> int:
    from oncall.models import Page

    qs = Page.objects.filter(status__in=[Page.Status.TRIGGERED, Page.Status.EXHAUSTED])
    if filters and filters.team_id:
        qs = qs.filter(Q(service__owner_team_id=filters.team_id) | Q(policy__team_id=filters.team_id))
    if filters and filters.service_id:
        qs = qs.filter(service_id=filters.service_id)
    return qs.count()


def overdue_followups(filters: Filters, *, now: datetime, limit: int = PANEL_LIMIT) -> dict:
    """Unpublished postmortems past due and unfinished action items past due (the
    postmortems app's own selectors, so "overdue" means the same everywhere)."""
    from postmortems import selectors as pm_selectors

    today = timezone.localtime(now, timeutil.zone(settings.TIME_ZONE)).date()
    postmortems = pm_selectors.postmortems_overdue(now)
    items = pm_selectors.action_items_overdue(today)
    if filters.team_id:
        postmortems = postmortems.filter(team_id=filters.team_id)
        items = items.filter(team_id=filters.team_id)
    return {
        "postmortems_total": postmortems.order_by().count(),
        "postmortems": list(postmortems[:limit]),
        "action_items_total": items.order_by().count(),
        "action_items": list(items[:limit]),
    }


RELEASE_HORIZON = timedelta(days=7)


def upcoming_releases(filters: Filters, *, now: datetime, limit: int = PANEL_LIMIT) -> dict:
    """Open releases whose deploy window is open now or starts within the next 7 days, soonest
    first, with readiness % and the gate's last stored answer (``last_gate_decision`` /
    ``last_gate_at``, as the readiness admin list shows it; the live gate is never evaluated
    here). Two queries: the total and the rows (item counts as correlated subqueries; partial
    index readiness_release_open_window)."""
    from readiness import selectors as readiness_selectors
    from readiness.models import Release, ReviewItem

    qs = Release.objects.filter(
        status__in=Release.OPEN_STATUSES, window_start__lt=now + RELEASE_HORIZON, window_end__gt=now
    ).order_by()
    if filters.team_id or filters.service_id:
        services = Release.services.through.objects.filter(release_id=OuterRef("pk"))
        if filters.team_id:
            services = services.filter(service__owner_team_id=filters.team_id)
        if filters.service_id:
            services = services.filter(service_id=filters.service_id)
        qs = qs.filter(Exists(services))
    done = Coalesce(
        Subquery(
            ReviewItem.objects.filter(
                review__release=OuterRef("pk"), state__in=readiness_selectors.DONE_STATES
            )
            .order_by()
            .values("review")
            .annotate(n=Count("pk"))
            .values("n"),
            output_field=IntegerField(),
        ),
        0,
    )
    rows = []
    for release in qs.annotate(_items=count_subquery(ReviewItem, "review__release"), _done=done).order_by(
        "window_start", "pk"
    )[:limit]:
        decision = release.last_gate_decision or "unknown"
        rows.append(
            {
                "release": release,
                "readiness": round(100 * release._done / release._items) if release._items else None,
                "gate": decision,
                "gate_at": release.last_gate_at if release.last_gate_decision else None,
                "gate_tone": {"go": "green", "no-go": "red"}.get(decision, "grey"),
            }
        )
    return {"total": qs.count(), "rows": rows, "until": now + RELEASE_HORIZON}


def overdue_action_item_count(now: datetime) -> int:
    from postmortems import selectors as pm_selectors

    today = timezone.localtime(now, timeutil.zone(settings.TIME_ZONE)).date()
    return pm_selectors.action_items_overdue(today).order_by().count()


def overdue_postmortem_count(now: datetime) -> int:
    from postmortems import selectors as pm_selectors

    return pm_selectors.postmortems_overdue(now).order_by().count()


def escalation_backlog() -> int:
    from escalations.models import Escalation

    return Escalation.objects.unacknowledged().count()


def notification_outbox(now: datetime) -> dict:
    """Outbox depth by status, age of the oldest pending message, failures (last 24 h and
    all time). One query."""
    from django.db.models import Min

    from notifications.models import Notification

    status = Notification.Status
    return Notification.objects.order_by().aggregate(
        pending=Count("pk", filter=Q(status=status.PENDING)),
        sending=Count("pk", filter=Q(status=status.SENDING)),
        failed=Count("pk", filter=Q(status=status.FAILED)),
        failed_24h=Count("pk", filter=Q(status=status.FAILED, updated_at__gte=now - timedelta(hours=24))),
        oldest_pending=Min("created_at", filter=Q(status=status.PENDING)),
    )
