import pytest
from django.core.management import call_command
from django.test import override_settings

from accounts.models import User
from catalog.models import Service, ServiceDependency, Team


@pytest.mark.django_db
@override_settings(DEBUG=True)
def test_seed_demo_is_idempotent_and_realistic(capsys):
    call_command("seed_demo")
    counts = (
        User.objects.count(),
        Team.objects.count(),
        Service.objects.count(),
        ServiceDependency.objects.count(),
    )
    call_command("seed_demo")
    assert (
        User.objects.count(),
        Team.objects.count(),
        Service.objects.count(),
        ServiceDependency.objects.count(),
    ) == counts
    assert counts[1] >= 4
    assert counts[2] >= 15
    assert counts[3] >= 15
    out = capsys.readouterr().out
    for login in ("admin", "maya", "ravi", "sam", "rita"):
        assert login in out
    sam = User.objects.get(username="sam")
    assert not sam.is_staff
    assert sam.groups.get().name == "Support"
    assert User.objects.get(username="maya").check_password("opsportal-demo")
    assert all(s.owner_team_id for s in Service.objects.all())


@pytest.mark.django_db
@override_settings(DEBUG=False)
def test_seed_demo_refuses_without_debug():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="DEBUG off"):
        call_command("seed_demo")
