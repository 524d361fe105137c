import pytest
from django.core.management import call_command
from django.test import override_settings

from catalog.models import Team
from oncall import selectors
from oncall.models import EscalationPolicy, Override, RotationLayer, Schedule


@pytest.mark.django_db
@override_settings(DEBUG=True)
def test_demo_on_call_is_idempotent_and_covers_every_team():
    call_command("seed_demo")
    counts = (Schedule.objects.count(), RotationLayer.objects.count(), Override.objects.count(),
              EscalationPolicy.objects.count())  # fmt: skip
    call_command("seed_demo")
    assert (Schedule.objects.count(), RotationLayer.objects.count(), Override.objects.count(),
            EscalationPolicy.objects.count()) == counts  # fmt: skip
    for team in Team.objects.all():
        zones = set(Schedule.objects.filter(team=team).values_list("time_zone", flat=True))
        assert len(zones) == 2, team  # primary and secondary in different zones
        assert EscalationPolicy.objects.get(team=team, is_team_default=True).levels.count() == 3
        assert Override.objects.filter(schedule__team=team).exists()
    answers = selectors.on_call(Schedule.objects.values_list("pk", flat=True))
    assert all(a.user is not None for a in answers.values())
    assert Override.objects.filter(kind="swap").exists()
