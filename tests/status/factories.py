"""Factories for the status page: components over catalog services, incidents declared
through incidents.services (tests.incidents.factories)."""

from status.models import Component
from tests.factories import ServiceFactory, TeamFactory, UserFactory


def component(*, name: str = "API", group: str = "Core", order: int = 1, public: bool = True, service=None):
    if service is None:
        service = ServiceFactory(owner_team=TeamFactory(manager=UserFactory()))
    return Component.objects.create(service=service, name=name, group=group, order=order, public=public)
