"""Factories for incidents (declared through the service, like everything else)."""

from incidents import services
from incidents.models import Severity
from tests.factories import ServiceFactory, TeamFactory, UserFactory


def severity(level: int) -> Severity:
    return Severity.objects.get(level=level)


def declare(*, actor=None, level: int = 2, service=None, title: str = "Checkout errors", **kwargs):
    """An incident declared through ``services.declare_incident`` (quietly unless told)."""
    if service is None:
        team = TeamFactory(manager=UserFactory())
        service = ServiceFactory(owner_team=team)
    return services.declare_incident(
        title=title, severity=severity(level), services=[service], actor=actor, **kwargs
    )
