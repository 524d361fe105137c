"""Factories for the status page: components over catalog services, incidents declared
through incidents.services (tests.incidents.factories)."""

from status.models import Component
from tests.factories import ServiceFactory, TeamFactory, UserFactory


def component(*, name: str = "API", group: str = "Core", order: int = 1, public: bool = True, service=None):
    if service is None:
        service = ServiceFactory(owner_team=TeamFactory(manager=UserFactory()))
    return Component.objects.create(service=service, name=name, group=group, order=order, public=public)


def publish(incident, *, by=None, title: str | None = None, message: str | None = "We are investigating."):
    """Publish ``incident`` the way a person does: a public title (default: the incident's
    title) and, unless told otherwise, a customer message. Nothing is public before this."""
    from django.contrib.auth.models import Group

    from accounts import roles
    from incidents import services as incident_services
    from status import services

    if by is None or not by.groups.filter(name=roles.MANAGERS).exists():
        by = UserFactory()
        by.groups.add(Group.objects.get(name=roles.MANAGERS))
    services.set_incident_public(
        incident=incident, actor=by, public=True, public_title=title if title is not None else incident.title
    )
    if message:
        incident_services.set_customer_message(incident=incident, actor=by, text=message)
    incident.refresh_from_db()
    return incident


def declare_public(*, actor=None, message: str | None = "We are investigating.", **kwargs):
    """``tests.incidents.factories.declare``, then published (``publish``)."""
    from tests.incidents.factories import declare

    return publish(declare(actor=actor, **kwargs), by=actor, message=message)
