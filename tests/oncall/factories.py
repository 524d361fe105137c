"""Factories for on-call models (schedules with participants, policies with levels)."""

from datetime import date, time

import factory

from oncall.models import EscalationLevel, EscalationPolicy, LayerMember, Override, RotationLayer, Schedule
from tests.factories import TeamFactory, UserFactory


class ScheduleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Schedule

    team = factory.SubFactory(TeamFactory)
    name = factory.Sequence(lambda n: f"Schedule {n}")
    time_zone = "UTC"


class LayerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RotationLayer
        skip_postgeneration_save = True

    schedule = factory.SubFactory(ScheduleFactory)
    name = "Primary"
    position = factory.Sequence(lambda n: n + 1)
    rotation_length = 1
    rotation_unit = RotationLayer.Unit.WEEKS
    start_date = date(2026, 1, 5)
    handoff_time = time(9, 0)

    @factory.post_generation
    def people(self, create, extracted, **kwargs):
        """LayerFactory(people=[alice, bob]) -> participants in that order."""
        if create and extracted:
            for pos, user in enumerate(extracted):
                LayerMember.objects.create(layer=self, user=user, position=pos)


class OverrideFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Override

    schedule = factory.SubFactory(ScheduleFactory)
    user = factory.SubFactory(UserFactory)


class PolicyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EscalationPolicy

    team = factory.SubFactory(TeamFactory)
    name = factory.Sequence(lambda n: f"Policy {n}")


def level(policy, position, *, delay=5, schedules=(), users=(), include_next=False) -> EscalationLevel:
    lv = EscalationLevel.objects.create(
        policy=policy, position=position, delay_minutes=delay, include_next_on_call=include_next
    )
    lv.schedules.set(schedules)
    lv.users.set(users)
    return lv
