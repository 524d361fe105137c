"""Postmortem test data, built through the services like everything else."""

from datetime import date, datetime, timedelta

from django.utils import timezone

from incidents import services as incident_services
from postmortems import services
from postmortems.models import REVIEW_CHECKLIST_KEYS
from tests.factories import ServiceFactory, TeamFactory, UserFactory
from tests.incidents.factories import declare


def resolved_incident(
    *,
    actor,
    level: int = 2,
    team=None,
    service=None,
    title: str = "Checkout errors",
    started_at: datetime | None = None,
    detected_at: datetime | None = None,
    resolved_at: datetime | None = None,
    **kwargs,
):
    """An incident declared and resolved through the incident services, quietly."""
    now = timezone.now()
    detected_at = detected_at or now - timedelta(hours=3)
    started_at = started_at or detected_at - timedelta(minutes=12)
    resolved_at = resolved_at or detected_at + timedelta(hours=1)
    if service is None:
        team = team or TeamFactory(manager=UserFactory())
        service = ServiceFactory(owner_team=team)
    with incident_services.quiet():
        incident = declare(
            actor=actor, level=level, service=service, title=title, detected_at=detected_at,
            started_at=started_at, **kwargs,
        )  # fmt: skip
        incident = incident_services.resolve(incident=incident, actor=actor, at=resolved_at)
    return incident


def postmortem(*, actor, incident=None, **kwargs):
    incident = incident or resolved_incident(actor=actor)
    return services.start_postmortem(incident=incident, actor=actor, **kwargs)


def ready_for_review(pm, actor):
    return services.update_postmortem(
        postmortem=pm,
        actor=actor,
        summary=pm.summary or "Checkout failed for a third of customers.",
        root_cause="The connection pool was exhausted by a retry storm.",
        resolution="Raised the pool size and rolled back the retry change.",
    )


def published(pm, author, reviewer):
    ready_for_review(pm, author)
    services.submit_for_review(postmortem=pm, actor=author)
    services.approve(postmortem=pm, actor=reviewer, checklist=REVIEW_CHECKLIST_KEYS)
    return services.publish(postmortem=pm, actor=reviewer)


def item(pm, actor, *, owner=None, due_date: date | None = None, **kwargs):
    return services.add_action_item(
        postmortem=pm,
        actor=actor,
        title=kwargs.pop("title", "Alert on pool saturation"),
        owner=owner or actor,
        due_date=due_date or timezone.now().date() + timedelta(days=14),
        **kwargs,
    )
