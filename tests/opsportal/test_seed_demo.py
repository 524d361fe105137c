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
    from probes.models import Probe

    assert not Probe.objects.filter(state=Probe.State.PAUSED).exists()  # DEBUG: loopback allowed


@pytest.mark.django_db
@override_settings(DEBUG=False)
def test_seed_demo_refuses_without_debug():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="DEBUG off"):
        call_command("seed_demo")


LOOPBACK_PROBES = {"Portal /healthz", "PostgreSQL port"}  # SITE_URL is http://localhost:8000 here


def _probe_states():
    from probes.models import Probe

    return {p.name: (p.state, p.description) for p in Probe.objects.all()}


def _counts():
    from incidents.models import Incident
    from oncall.models import RotationLayer, Schedule
    from probes.models import Probe

    return tuple(m.objects.count() for m in (User, Team, Service, Schedule, RotationLayer, Incident, Probe))


@pytest.mark.django_db
@override_settings(DEBUG=False, OUTBOUND_ALLOWED_NETWORKS=None, PROBE_ALLOWED_NETWORKS=None)
def test_seed_demo_with_debug_off_succeeds_twice_and_pauses_what_the_guard_refuses(capsys):
    """Defect 18: with DEBUG off the SSRF guard refuses loopback, and seeding aborted at the
    probes step. The guard stays as strict; the demo probes it refuses are created paused,
    saying why and how to allow them, so a production-like demo neither aborts nor pages."""
    from probes.models import Probe

    call_command("seed_demo", "--force")
    counts = _counts()
    call_command("seed_demo", "--force")
    assert _counts() == counts
    states = _probe_states()
    for name in LOOPBACK_PROBES:
        state, description = states[name]
        assert state == Probe.State.PAUSED, name
        assert "OUTBOUND_ALLOWED_NETWORKS" in description
        assert "a loopback address" in description
    assert {n for n, (state, _) in states.items() if state == Probe.State.PAUSED} == LOOPBACK_PROBES
    assert "Demo data ready" in capsys.readouterr().out


@pytest.mark.django_db
def test_seed_demo_converges_when_the_guard_changes(settings):
    """Paused by a DEBUG-off run; resumed by a later run whose guard allows the target (here
    DEBUG still off, loopback allowed by the operator); a probe a person paused stays paused."""
    from probes import services as probe_services
    from probes.models import Probe

    settings.DEBUG, settings.OUTBOUND_ALLOWED_NETWORKS, settings.PROBE_ALLOWED_NETWORKS = False, None, None
    call_command("seed_demo", "--force")
    assert Probe.objects.get(name="Portal /healthz").state == Probe.State.PAUSED
    manual = Probe.objects.get(name="Billing event processing")
    probe_services.pause_probe(probe=manual)
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8", "::1/128"]
    call_command("seed_demo", "--force")
    for name in LOOPBACK_PROBES:
        probe = Probe.objects.get(name=name)
        assert probe.state != Probe.State.PAUSED, name
        assert probe.description == ""
    assert Probe.objects.get(name="Portal /healthz").url == "http://localhost:8000/healthz"
    assert Probe.objects.get(pk=manual.pk).state == Probe.State.PAUSED
