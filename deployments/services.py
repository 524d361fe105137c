"""Every write to deployments: pipeline reports (API and command), releases shipped or rolled
back (readiness' signal), and people confirming or denying "caused by" links.

Idempotency: a start report carries the pipeline's ``client_key`` (unique in the database); a
repeat returns the first record unchanged, whatever else it says, including when two reports
race (the loser's INSERT fails on the constraint and it reads the winner's row).

Locking: finishing, rolling back and deciding a link lock the deployment row
(``select_for_update``) and re-check its state, so two finishes of one deployment give one
outcome and one 409. ``change_failure`` is recomputed under that lock from the status and the
confirmed links, so it is never out of step with either.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from catalog.models import Service
from deployments import conf, permissions, selectors
from deployments.models import PRODUCTION, Deployment, IncidentLink
from incidents import services as incident_services
from incidents.models import Incident, TimelineEvent
from opsportal.api.params import EARLIEST
from opsportal.errors import Conflict, InvalidInput, NotAllowed
from readiness.models import ReadinessReview, Release

Status = Deployment.Status


class AlreadyFinished(Conflict):
    """Finishing a deployment that is not running: the 409 carries its state."""

    def __init__(self, message: str, *, deployment: Deployment | None) -> None:
        super().__init__(message)
        self.deployment = deployment


def _not_future(value: datetime | None, *, now: datetime, field: str) -> None:
    if value is None:
        return
    if timezone.is_naive(value):
        raise InvalidInput("Times need a time zone (e.g. 2026-03-01T10:00:00Z).", field=field)
    if value > now + conf.max_clock_skew():
        raise InvalidInput(f"{field} is in the future.", field=field)
    if value < EARLIEST:
        raise InvalidInput(f"{field} is before {EARLIEST:%Y-%m-%d}.", field=field)


def _rollback_tested(*, release: Release | None, service_ids: list[int], at: datetime) -> bool:
    since = at - selectors.ROLLBACK_EVIDENCE_AGE
    if release is not None and release.rollback_tested_at and since <= release.rollback_tested_at <= at:
        return True
    return selectors.last_real_rollback_before(service_ids, at, since=since) is not None


@transaction.atomic
def report_start(
    *,
    actor,
    client_key: str,
    services: Iterable[Service],
    version: str,
    environment: str = PRODUCTION,
    started_at: datetime | None = None,
    commit_sha: str = "",
    commit_at: datetime | None = None,
    pipeline_url: str = "",
    triggered_by: str = "",
    release: Release | None = None,
    now: datetime | None = None,
) -> tuple[Deployment, bool]:
    """Record a deployment that started: ``(deployment, created)``. A repeat of a
    ``client_key`` returns the first record and ``created=False``."""
    if not permissions.can_report(actor):
        raise NotAllowed("You may not report deployments.")
    client_key = (client_key or "").strip()
    if not client_key:
        raise InvalidInput("A deployment report needs a client_key (idempotency key).", field="client_key")
    existing = Deployment.objects.filter(client_key=client_key).first()
    if existing is not None:
        return existing, False
    return _create(
        actor=actor, client_key=client_key, services=services, version=version, environment=environment,
        started_at=started_at, commit_sha=commit_sha, commit_at=commit_at, pipeline_url=pipeline_url,
        triggered_by=triggered_by, release=release, now=now,
    )  # fmt: skip


def _create(
    *, actor, client_key, services, version, environment, started_at, commit_sha, commit_at, pipeline_url,
    triggered_by, release, now, status=Status.RUNNING, finished_at=None,
) -> tuple[Deployment, bool]:  # fmt: skip
    now = now or timezone.now()
    services = list(services)
    version = (version or "").strip()
    environment = (environment or PRODUCTION).strip()
    if not version:
        raise InvalidInput("A deployment needs a version.", field="version")
    if not services:
        raise InvalidInput("A deployment changes at least one service.", field="services")
    if slugify(environment) != environment:
        raise InvalidInput("The environment is a slug (e.g. production, staging).", field="environment")
    started_at = started_at or now
    _not_future(started_at, now=now, field="started_at")
    _not_future(commit_at, now=now, field="commit_at")
    if commit_at is not None and commit_at > started_at:
        raise InvalidInput("The commit cannot be later than the deploy's start.", field="commit_at")
    service_ids = [s.pk for s in services]
    deployment = Deployment(
        client_key=client_key,
        version=version,
        environment=environment,
        status=status,
        started_at=started_at,
        finished_at=finished_at,
        rolled_back_at=finished_at if status == Status.ROLLED_BACK else None,
        change_failure=status in (Status.FAILED, Status.ROLLED_BACK),
        commit_sha=(commit_sha or "").strip(),
        commit_at=commit_at,
        pipeline_url=pipeline_url or "",
        triggered_by=(triggered_by or "").strip(),
        release=release,
        reviewed=release is not None and ReadinessReview.objects.filter(release=release).exists(),
        rollback_tested=_rollback_tested(release=release, service_ids=service_ids, at=started_at),
        reported_by=actor if getattr(actor, "pk", None) else None,
    )
    try:
        with transaction.atomic():
            deployment.save()
    except IntegrityError:
        # a concurrent report with the same key won: answer with its record
        winner = Deployment.objects.filter(client_key=client_key).first()
        if winner is None:
            raise
        return winner, False
    deployment.services.set(services)
    return deployment, True


def _lock(deployment: Deployment | int) -> Deployment | None:
    pk = deployment.pk if isinstance(deployment, Deployment) else deployment
    return Deployment.objects.select_for_update().filter(pk=pk).first()


def _recompute(deployment: Deployment) -> None:
    caused = deployment.incident_links.filter(verdict=IncidentLink.Verdict.CONFIRMED).exists()
    failed = deployment.status in (Status.FAILED, Status.ROLLED_BACK) or caused
    if (failed, caused) != (deployment.change_failure, deployment.caused_incident):
        deployment.change_failure, deployment.caused_incident = failed, caused
        deployment.save(update_fields=["change_failure", "caused_incident", "updated_at"])


@transaction.atomic
def report_finish(
    *, actor, deployment: Deployment | int, outcome: str, finished_at: datetime | None = None,
    now: datetime | None = None,
) -> Deployment:  # fmt: skip
    """``running -> succeeded | failed | rolled_back``, once. Unknown or already finished: a
    409 (``AlreadyFinished``) carrying the state."""
    if not permissions.can_report(actor):
        raise NotAllowed("You may not report deployments.")
    now = now or timezone.now()
    if outcome not in Deployment.OUTCOMES:
        raise InvalidInput(f"outcome must be one of {', '.join(Deployment.OUTCOMES)}.", field="outcome")
    locked = _lock(deployment)
    if locked is None:
        raise AlreadyFinished(f"No deployment {deployment!s} to finish.", deployment=None)
    if locked.status != Status.RUNNING:
        raise AlreadyFinished(
            f"Deployment {locked.pk} already finished: {locked.get_status_display().lower()} at "
            f"{locked.finished_at:%Y-%m-%d %H:%M:%S} UTC.",
            deployment=locked,
        )
    finished_at = finished_at or now
    _not_future(finished_at, now=now, field="finished_at")
    if finished_at < locked.started_at:
        raise InvalidInput("A deployment cannot finish before it started.", field="finished_at")
    _finish(locked, outcome, finished_at)
    return locked


def _finish(locked: Deployment, outcome: str, at: datetime) -> None:
    locked.status = outcome
    locked.finished_at = at
    locked.rolled_back_at = at if outcome == Status.ROLLED_BACK else None
    locked.change_failure = outcome != Status.SUCCEEDED or locked.change_failure
    locked.save(update_fields=["status", "finished_at", "rolled_back_at", "change_failure", "updated_at"])


def record_release_move(*, release: Release, status: str, actor, at: datetime) -> Deployment:
    """A release was shipped or rolled back (readiness already decided it may be; this runs
    inside its transaction): finish the release's running deployment, roll back its
    succeeded one, or record one when the pipeline never reported it."""
    latest = (
        Deployment.objects.select_for_update().filter(release=release).order_by("-started_at", "-pk").first()
    )
    if status == Release.Status.SHIPPED:
        if latest is not None and latest.status == Status.RUNNING:
            _finish(latest, Status.SUCCEEDED, max(at, latest.started_at))
            return latest
        outcome = Status.SUCCEEDED
    elif status == Release.Status.ROLLED_BACK:
        if latest is not None and latest.status == Status.RUNNING:
            _finish(latest, Status.ROLLED_BACK, max(at, latest.started_at))
            return latest
        if latest is not None and latest.status == Status.SUCCEEDED:
            latest.status = Status.ROLLED_BACK
            latest.rolled_back_at = max(at, latest.finished_at)
            latest.change_failure = True
            latest.save(update_fields=["status", "rolled_back_at", "change_failure", "updated_at"])
            return latest
        if latest is not None:
            return latest  # already failed or rolled back: nothing new to record
        outcome = Status.ROLLED_BACK
    else:
        raise InvalidInput(f"Releases do not deploy on {status!r}.")
    n = Deployment.objects.filter(release=release).count()
    deployment, _ = _create(
        actor=actor, client_key=f"release-{release.pk}-{n + 1}", services=release.services.all(),
        version=release.version, environment=PRODUCTION, started_at=at, commit_sha="", commit_at=None,
        pipeline_url="", triggered_by=f"release {release} marked {status.replace('_', ' ')}",
        release=release, now=at, status=outcome, finished_at=at,
    )  # fmt: skip
    return deployment


@transaction.atomic
def decide_link(
    *, actor, deployment: Deployment, incident: Incident, verdict: str, now: datetime | None = None
) -> IncidentLink:
    """Confirm or deny "``incident`` was caused by ``deployment``" (a suggestion of the incident
    room). Deciding again replaces the earlier answer; the deployment's change failure follows."""
    if not permissions.can_decide_links(actor):
        raise NotAllowed("You may not link deployments to incidents.")
    if verdict not in IncidentLink.Verdict.values:
        raise InvalidInput("verdict must be confirmed or denied.", field="verdict")
    now = now or timezone.now()
    locked = _lock(deployment)
    if locked is None:
        raise Conflict("That deployment no longer exists.")
    candidate = next(
        (s for s in selectors.suggestions(incident, limit=None) if s.deployment.pk == locked.pk), None
    )
    if candidate is None:
        raise InvalidInput(
            f"Deployment {locked} is not a candidate cause of {incident.reference}: it must change one of "
            f"its services within {selectors.window_text()} before impact began."
        )
    link, created = IncidentLink.objects.get_or_create(
        deployment=locked, incident=incident,
        defaults={"verdict": verdict, "decided_by": actor, "decided_at": now,
                  "minutes_before_impact": candidate.minutes_before},
    )  # fmt: skip
    if not created:
        if link.verdict == verdict:
            return link
        link.verdict, link.decided_by, link.decided_at = verdict, actor, now
        link.save(update_fields=["verdict", "decided_by", "decided_at"])
    _recompute(locked)
    services = ", ".join(s.slug for s in candidate.services) or "its services"
    text = (
        f"Caused by {services} {locked.version} (deployed {candidate.when_text} before impact began): "
        f"{'confirmed' if verdict == IncidentLink.Verdict.CONFIRMED else 'denied'}."
    )
    incident_services.add_timeline_event(
        incident=incident, kind=TimelineEvent.Kind.NOTE, text=text, actor=actor, occurred_at=now,
        related=locked, data={"deployment": locked.pk, "verdict": verdict},
    )  # fmt: skip
    return link
