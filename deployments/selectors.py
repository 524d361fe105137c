"""Reads of deployments: "caused by" suggestions for an incident, each service's last deploy,
recent change failure rates (readiness) and real rollbacks (rollback evidence). The delivery
metrics (DORA's four keys) live with the other metrics in ``metrics/delivery.py``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Q
from django.utils import timezone

from catalog.models import Service
from deployments import conf
from deployments.models import PRODUCTION, Deployment, IncidentLink
from incidents.models import Incident

ROLLBACK_EVIDENCE_AGE = timedelta(days=90)
SUGGESTION_LIMIT = 5


def window_text() -> str:
    hours = conf.cause_window().total_seconds() / 3600
    return f"{hours:g} h"


def _duration_text(delta: timedelta) -> str:
    minutes = max(0, int(delta.total_seconds() // 60))
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest} min" if rest else f"{hours} h"


@dataclass
class Suggestion:
    deployment: Deployment
    services: list[Service]
    minutes_before: int
    when_text: str
    link: IncidentLink | None

    @property
    def verdict(self) -> str | None:
        return self.link.verdict if self.link else None

    @property
    def label(self) -> str:
        names = ", ".join(s.slug for s in self.services)
        return f"{names} {self.deployment.version}"


def incident_service_ids(incident: Incident) -> set[int]:
    ids = set(incident.services.values_list("pk", flat=True))
    if incident.primary_service_id:
        ids.add(incident.primary_service_id)
    return ids


def suggestions(incident: Incident, *, limit: int | None = SUGGESTION_LIMIT) -> list[Suggestion]:
    """Production deployments of the incident's services that went live (or started) within
    the cause window before impact began (``started_at``), most recent first, with the
    answer people already gave. Three queries (services, deployments with their services,
    links)."""
    impact = incident.started_at
    window = conf.cause_window()
    service_ids = incident_service_ids(incident)
    if not service_ids or impact is None:
        return []
    # started before impact, and went live no earlier than the window before it
    live_in_window = Q(finished_at__gte=impact - window) | Q(
        finished_at__isnull=True, started_at__gte=impact - window
    )
    rows = list(
        Deployment.objects.filter(
            live_in_window,
            environment=PRODUCTION,
            started_at__lte=impact,
            started_at__gte=impact - window - timedelta(days=1),  # bounded by the index
            services__in=service_ids,
        )
        .distinct()
        .prefetch_related("services")
        .order_by("-started_at", "-pk")[:limit]
    )
    links = {
        link.deployment_id: link
        for link in IncidentLink.objects.filter(incident=incident, deployment__in=rows).select_related(
            "decided_by"
        )
    }
    out = []
    for d in rows:
        before = impact - min(d.deployed_at, impact)
        out.append(
            Suggestion(
                deployment=d,
                services=sorted((s for s in d.services.all() if s.pk in service_ids), key=lambda s: s.slug),
                minutes_before=int(before.total_seconds() // 60),
                when_text=_duration_text(before),
                link=links.get(d.pk),
            )
        )
    return out


def last_real_rollback_before(service_ids, at: datetime, *, since: datetime) -> Deployment | None:
    """The latest production deployment of these services rolled back in [since, at]."""
    return (
        Deployment.objects.filter(
            environment=PRODUCTION,
            services__in=service_ids,
            rolled_back_at__gte=since,
            rolled_back_at__lte=at,
        )
        .order_by("-rolled_back_at")
        .first()
    )


def last_real_rollback_of_release(release) -> tuple[datetime, str] | None:
    now = timezone.now()
    ids = list(release.services.values_list("pk", flat=True))
    d = last_real_rollback_before(ids, now, since=now - ROLLBACK_EVIDENCE_AGE)
    if d is None:
        return None
    return (
        d.rolled_back_at,
        f"deployment {d.pk} ({d.version}) rolled back {d.rolled_back_at:%Y-%m-%d %H:%M} UTC",
    )


def last_deploys(service_ids) -> dict[int, Deployment]:
    """service id -> its last production deployment (one query: DISTINCT ON on PostgreSQL
    would be shorter; a correlated subquery is portable and bounded by the service count)."""
    through = Deployment.services.through
    out: dict[int, Deployment] = {}
    rows = through.objects.filter(
        service_id__in=list(service_ids), deployment__environment=PRODUCTION
    ).order_by("service_id", "-deployment__started_at", "-deployment_id")
    # per service only the first row matters; the loop stops reading a service after it
    seen: set[int] = set()
    for row in rows.select_related("deployment").iterator(chunk_size=200):
        if row.service_id in seen:
            continue
        seen.add(row.service_id)
        out[row.service_id] = row.deployment
        if len(seen) == len(set(service_ids)):
            break
    return out


def last_deploys_of_release(release) -> list[dict]:
    services = sorted(release.services.all(), key=lambda s: s.slug)
    last = last_deploys([s.pk for s in services])
    out = []
    for s in services:
        d = last.get(s.pk)
        out.append(
            {
                "service": s.slug,
                "deployment": d.pk if d else None,
                "version": d.version if d else None,
                "status": d.status if d else None,
                "started_at": d.started_at if d else None,
                "finished_at": d.finished_at if d else None,
            }
        )
    return out


@dataclass
class RecentFailures:
    deploys: int
    failures: int

    @property
    def ratio(self) -> float | None:
        return self.failures / self.deploys if self.deploys else None


def recent_change_failures(service: Service, *, sample: int | None = None) -> RecentFailures:
    """Change failures among the service's last ``sample`` finished production deployments."""
    sample = sample or conf.change_failure_sample()
    flags = list(
        Deployment.objects.filter(services=service, environment=PRODUCTION)
        .exclude(status=Deployment.Status.RUNNING)
        .order_by("-started_at", "-pk")
        .values_list("change_failure", flat=True)[:sample]
    )
    return RecentFailures(deploys=len(flags), failures=sum(1 for f in flags if f))


def counts_by_service_and_status() -> dict[tuple[str, str], int]:
    """(service slug, status) -> production deployments, all time (Prometheus). One query."""
    through = Deployment.services.through
    rows = (
        through.objects.filter(deployment__environment=PRODUCTION)
        .values_list("service__slug", "deployment__status")
        .annotate(n=Count("deployment_id"))
        .order_by()
    )
    return {(slug, status): n for slug, status, n in rows}


def change_failure_ratios(since: datetime) -> dict[str, tuple[int, int]]:
    """service slug -> (change failures, completed deployments) started since ``since``. One query."""
    through = Deployment.services.through
    completed = ~Q(deployment__status=Deployment.Status.RUNNING) | Q(deployment__change_failure=True)
    rows = (
        through.objects.filter(
            completed, deployment__environment=PRODUCTION, deployment__started_at__gte=since
        )
        .values_list("service__slug")
        .annotate(
            failures=Count("deployment_id", filter=Q(deployment__change_failure=True)),
            n=Count("deployment_id"),
        )
        .order_by()
    )
    return {slug: (failures, n) for slug, failures, n in rows}
