"""Delivery metrics: DORA's four keys computed from the portal's own deployment and incident
records, with the breakdowns that say whether Friday is the risk or the rollback is. The
dashboard's "Delivery" panel, ``/api/v1/metrics/delivery/``, Prometheus and the benchmark all
call ``delivery_report``; the statistics engine (mean, median, p90 in the database) is
``metrics.selectors.describe``, the same as the incident metrics.

Definitions (``DEFINITIONS``; docs/deployments.md puts them next to DORA's):

- A deployment counts in the period it *started* in, production only (``environment`` is
  ``production``); filters: team (a service it changed belongs to the team) and service.
- deployment frequency = deployments started in the period (total, per local week, per day);
  ``succeeded`` are the ones that reached production and stayed.
- lead time for changes = finished_at - commit_at, for succeeded deployments reporting a
  commit time (others counted in ``excluded``).
- change failure rate = change failures / completed deployments. A deployment is a change
  failure when it failed, was rolled back, or a person confirmed in the incident room that
  it caused an incident (suggested when an incident on one of its services started within
  DEPLOYMENTS_CAUSE_WINDOW_HOURS, default 24, after it went live). Completed = finished, or
  running but already confirmed as a cause.
- time to restore = restored - started_at for change failures, where restored is the
  earliest of: the rollback's finish, the failed deploy's finish (the previous version kept
  serving), the mitigation (or else resolution) of an incident it was confirmed to cause.
  Change failures not restored yet are counted in ``excluded``.

Breakdowns (each with its counts, so a small sample shows as one): change failure rate by
local weekday and hour of the deploy's start (TIME_ZONE) and by readiness evidence (rollback tested or
exercised within 90 days before the deploy, vs not; deployed through a reviewed release vs
unreviewed); the four keys per service and per team (a deployment counts once for each
service it changed, so for a team once per its services it changed).

Query count is fixed (PostgreSQL: 7 for the report, the first switching JIT off), whatever
the number of rows.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, time, timedelta

from django.db import connection, transaction
from django.db.models import Case, Count, Exists, F, FloatField, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce, ExtractHour, ExtractIsoWeekDay, Least
from django.utils import timezone

from deployments.models import PRODUCTION, Deployment, IncidentLink
from metrics.selectors import (
    TREND_WEEKS,
    Filters,
    Seconds,
    Series,
    Stats,
    describe,
    local_week,
    local_zone,
    trend_mondays,
    week_key,
)
from opsportal import timeutil

DEFINITIONS: dict[str, str] = {
    "deployment_frequency": "Production deployments started in the period (per week and per day).",
    "lead_time_for_changes": "finished_at - commit_at, for succeeded deployments reporting a commit time.",
    "change_failure_rate": (
        "Change failures / completed deployments. A change failure failed, was rolled back, or was "
        "confirmed in the incident room to have caused an incident (suggested within the cause window)."
    ),
    "time_to_restore": (
        "Earliest of rollback finish, failed deploy's finish, or the confirmed incident's mitigation "
        "(else resolution), minus the deploy's start; for change failures."
    ),
}
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
Status = Deployment.Status

RUNNING = Q(status=Status.RUNNING)
COMPLETED = ~RUNNING | Q(change_failure=True)
FAILURE = Q(change_failure=True)


def deployment_scope(filters: Filters, *, period: bool = True) -> QuerySet[Deployment]:
    qs = Deployment.objects.filter(environment=PRODUCTION).order_by()
    if period:
        qs = qs.filter(started_at__gte=filters.start, started_at__lt=filters.end)
    through = Deployment.services.through
    if filters.service_id:
        qs = qs.filter(
            Exists(through.objects.filter(deployment_id=OuterRef("pk"), service_id=filters.service_id))
        )
    if filters.team_id:
        qs = qs.filter(
            Exists(
                through.objects.filter(deployment_id=OuterRef("pk"), service__owner_team_id=filters.team_id)
            )
        )
    return qs


class EarliestOf(Least):
    """The earlier of two values, ignoring a NULL one (PostgreSQL's LEAST does; SQLite's MIN
    returns NULL, so there each side falls back on the other)."""

    def as_sqlite(self, compiler, connection, **extra):
        a, b = self.get_source_expressions()
        return Least(Coalesce(a, b), Coalesce(b, a)).as_sqlite(compiler, connection, **extra)


def restored_at():
    """When service was restored after this change (NULL if not yet, or not a failure): the
    rollback's finish, the failed deploy's finish, or the earliest mitigation (else
    resolution) of an incident it was confirmed to cause, whichever came first. The incident
    lookup (a correlated subquery on the confirmed-links index) runs only for deployments
    flagged ``caused_incident``: the database evaluates CASE lazily."""
    own = Case(
        When(status=Status.ROLLED_BACK, then=F("rolled_back_at")),
        When(status=Status.FAILED, then=F("finished_at")),
    )
    incident_restored = Subquery(
        IncidentLink.objects.filter(deployment_id=OuterRef("pk"), verdict=IncidentLink.Verdict.CONFIRMED)
        .annotate(r=Coalesce("incident__mitigated_at", "incident__resolved_at"))
        .filter(r__isnull=False)
        .order_by("r")
        .values("r")[:1]
    )
    return Case(When(caused_incident=True, then=EarliestOf(own, incident_restored)), default=own)


def _one(condition: Q):
    return Case(When(condition, then=Value(1.0)), output_field=FloatField())


def series() -> list[Series]:
    return [
        Series("deploys", Value(1.0), percentiles=False),
        Series("succeeded", _one(Q(status=Status.SUCCEEDED)), percentiles=False),
        Series("completed", _one(COMPLETED), percentiles=False),
        Series("failures", _one(FAILURE & COMPLETED), percentiles=False),
        Series("lead_time", Seconds(F("finished_at"), F("commit_at")), Q(status=Status.SUCCEEDED)),
        # never negative: a confirmed incident began after the deploy started (candidates
        # only), and a rollback or failure finishes after it started (a constraint)
        Series("time_to_restore", Seconds(restored_at(), F("started_at")), FAILURE & COMPLETED),
    ]


def _rate(per: dict[str, Stats]) -> float | None:
    completed = per["completed"].count if per else 0
    return round(per["failures"].count / completed, 4) if completed else None


def _keys(per: dict[str, Stats] | None) -> dict:
    """The four keys of one group (with their counts)."""
    empty = Stats()
    per = per or {}
    g = lambda k: per.get(k, empty)  # noqa: E731
    return {
        "deployments": g("deploys").count,
        "succeeded": g("succeeded").count,
        "completed": g("completed").count,
        "change_failures": g("failures").count,
        "change_failure_rate": _rate(per) if per else None,
        "lead_time": g("lead_time").as_dict(),
        "time_to_restore": g("time_to_restore").as_dict(),
    }


def _grouped(qs: QuerySet, group) -> dict:
    return describe(qs, series(), group=group)


def _counts(rows: list[dict]) -> dict:
    """Change failure rate with its counts, summed over the rows of the one grouped query."""
    deploys = sum(r["n"] for r in rows)
    succeeded = sum(r["succeeded"] for r in rows)
    completed = sum(r["completed"] for r in rows)
    failures = sum(r["failures"] for r in rows)
    return {
        "deployments": deploys,
        "succeeded": succeeded,
        "completed": completed,
        "change_failures": failures,
        "change_failure_rate": round(failures / completed, 4) if completed else None,
    }


def breakdowns(filters: Filters) -> dict:
    """Change failure rate by local weekday and hour of the start and by readiness evidence
    (counts: one GROUP BY over weekday x hour x evidence, at most 672 rows, summed here), then
    the four keys per service and per team (one query each)."""
    qs = deployment_scope(filters)
    zone = local_zone()
    cells = list(
        qs.annotate(
            day=ExtractIsoWeekDay("started_at", tzinfo=zone), hour=ExtractHour("started_at", tzinfo=zone)
        )
        .values("day", "hour", "rollback_tested", "reviewed")
        .annotate(
            n=Count("pk"),
            succeeded=Count("pk", filter=Q(status=Status.SUCCEEDED)),
            completed=Count("pk", filter=COMPLETED),
            failures=Count("pk", filter=FAILURE & COMPLETED),
        )
        .order_by()
    )
    by_service = _grouped(qs, F("services__slug"))
    by_team = _grouped(qs, Coalesce(F("services__owner_team__name"), Value("No team")))
    return {
        "by_weekday": [
            {"weekday": WEEKDAYS[d - 1], **_counts([c for c in cells if c["day"] == d])} for d in range(1, 8)
        ],
        "by_hour": [{"hour": h, **_counts([c for c in cells if c["hour"] == h])} for h in range(24)],
        "by_readiness": [
            {
                "evidence": "rollback tested within 90 days",
                **_counts([c for c in cells if c["rollback_tested"]]),
            },
            {
                "evidence": "rollback not tested within 90 days",
                **_counts([c for c in cells if not c["rollback_tested"]]),
            },
            {"evidence": "reviewed release", **_counts([c for c in cells if c["reviewed"]])},
            {"evidence": "unreviewed deploy", **_counts([c for c in cells if not c["reviewed"]])},
        ],
        "by_service": [{"service": k, **_keys(v)} for k, v in sorted(by_service.items()) if k is not None],
        "by_team": [{"team": k, **_keys(v)} for k, v in sorted(by_team.items())],
    }


def delivery_trends(filters: Filters, *, now: datetime | None = None, weeks: int = TREND_WEEKS) -> list[dict]:
    """The last ``weeks`` local weeks (ignoring the period, keeping the other filters)."""
    zone = local_zone()
    mondays = trend_mondays(now, weeks)
    origin = timeutil.localize(mondays[0], time.min, zone)
    qs = deployment_scope(filters, period=False).filter(started_at__gte=origin)
    grouped = {week_key(g): per for g, per in _grouped(qs, local_week("started_at")).items()}
    return [{"week_start": timeutil.localize(m, time.min, zone), **_keys(grouped.get(m))} for m in mondays]


@contextmanager
def _no_jit():
    """PostgreSQL JIT-compiles a query whose estimated cost passes ``jit_above_cost``: these
    aggregates (two dozen expressions, the restore lookup's estimated subplan cost) pass it,
    and compiling them took 2-3 s per query on the benchmark machine against 0.1-0.5 s of
    execution. JIT is switched off for the report's own transaction only (``SET LOCAL``)."""
    if connection.vendor != "postgresql":
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")
        yield


def delivery_report(filters: Filters, *, now: datetime | None = None) -> dict:
    """Everything the Delivery panel and /api/v1/metrics/delivery/ show."""
    with _no_jit():
        return _delivery_report(filters, now=now)


def _delivery_report(filters: Filters, *, now: datetime | None = None) -> dict:
    qs = deployment_scope(filters)
    overall = describe(qs, series()).get(None)
    zone = local_zone()
    weekly = {
        week_key(w): n
        for w, n in qs.annotate(w=local_week("started_at"))
        .values("w")
        .annotate(n=Count("pk"))
        .values_list("w", "n")
    }
    days = max(1, round((filters.end - filters.start) / timedelta(days=1)))
    keys = _keys(overall)
    return {
        "period": {"start": filters.start, "end": filters.end},
        "filters": {"team": filters.team_id, "service": filters.service_id},
        **keys,
        "deployments_per_day": round(keys["deployments"] / days, 3),
        "per_week": [
            {"week_start": timeutil.localize(m, time.min, zone), "count": weekly.get(m, 0)}
            for m in timeutil.week_mondays(filters.start, filters.end, zone)
        ],
        "trends": delivery_trends(filters, now=now or timezone.now()),
        **breakdowns(filters),
        "definitions": DEFINITIONS,
    }
