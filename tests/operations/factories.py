"""Factories for the operating model register. Duties are created through the service so
their computed due points are the ones production would compute."""

from datetime import date, time

import factory

from operations import services
from operations.models import Responsibility
from tests.factories import TeamFactory, UserFactory


class ResponsibilityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Responsibility
        skip_postgeneration_save = True

    title = factory.Sequence(lambda n: f"Duty {n}")
    area = Responsibility.Area.INCIDENT_TRIAGE
    definition_of_done = "Every open alert has an owner."
    team = factory.SubFactory(TeamFactory)
    owner = factory.SubFactory(UserFactory)
    backup = factory.SubFactory(UserFactory)
    cadence = Responsibility.Cadence.WEEKLY
    first_due_on = date(2026, 11, 27)  # a Friday
    due_time = time(9, 0)
    time_zone = "UTC"

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        services_list = kwargs.pop("services", None)
        duty = services.save_responsibility(services=services_list, **kwargs)
        for person in (duty.owner, duty.backup):
            if person is not None:
                duty.team.members.add(person)
        return duty
