"""The demo operating model: seven default duties per team, some overdue, idempotent."""

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from operations import selectors
from operations.demo import DUTIES
from operations.models import CheckIn, Health, Responsibility


@pytest.mark.django_db
@override_settings(DEBUG=True)
def test_seed_demo_creates_default_duties_with_a_past_and_is_idempotent():
    call_command("seed_demo")
    counts = (Responsibility.objects.count(), CheckIn.objects.count())
    call_command("seed_demo")
    assert (Responsibility.objects.count(), CheckIn.objects.count()) == counts
    teams = {d.team.slug for d in Responsibility.objects.select_related("team")}
    assert len(teams) == 5
    assert counts[0] == 5 * len(DUTIES)
    assert counts[1] > 50
    now = timezone.now()
    health = {
        (d.team.slug, d.title): d.health_at(now)
        for d in Responsibility.objects.select_related("team", "owner")
    }
    assert list(health.values()).count(Health.OVERDUE) >= 4
    assert health[("web", "Support escalation path review")] == Health.UNOWNED
    assert health[("edge", "Incident triage")] == Health.OVERDUE
    kinds = {g.kind for g in selectors.gaps()}
    assert {"unowned", "departed_owner"} <= kinds
    assert CheckIn.objects.filter(late=True).exists()
