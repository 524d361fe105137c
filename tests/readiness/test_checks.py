"""Each automatic check: passes on a ready world, fails with a reason naming what is missing."""

from datetime import timedelta

import pytest
from django.utils import timezone

from catalog.models import ServiceLink
from incidents.models import Incident
from oncall.models import Override, RotationLayer, Schedule
from probes.models import Probe
from readiness import checks
from tests.factories import ServiceFactory, UserFactory
from tests.incidents.factories import declare
from tests.readiness.factories import make_release, ready_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    return ready_world()


@pytest.fixture
def release(world):
    return make_release(world)


def run(key, release, **kw):
    return checks.run(key, release, now=timezone.now(), **kw)


def test_every_check_passes_on_a_ready_world(release):
    for key in checks.REGISTRY:
        assert run(key, release) == [], key


def test_unknown_check_key_fails_with_reason(release):
    assert run("nope", release) == ["unknown automatic check 'nope'"]


class TestRunbooksFresh:
    def test_service_without_runbook(self, release, world):
        world.runbook.services.clear()
        assert run("runbooks_fresh", release) == ["service billing-api has no runbook"]

    def test_review_overdue(self, release, world):
        world.runbook.last_reviewed_at = timezone.now() - timedelta(days=100)
        world.runbook.save()
        (reason,) = run("runbooks_fresh", release)
        assert reason.startswith("service billing-api: runbook 'Runbook")
        assert "review overdue since" in reason

    def test_one_fresh_runbook_is_enough(self, release, world):
        from tests.runbooks.factories import RunbookFactory

        RunbookFactory(
            owner_team=world.team,
            services=[world.service],
            last_reviewed_at=timezone.now() - timedelta(days=400),
        )
        assert run("runbooks_fresh", release) == []


class TestProbeCoverage:
    def test_no_active_probe(self, release, world):
        Probe.objects.filter(pk=world.probe.pk).update(state=Probe.State.PAUSED)
        assert run("probe_coverage", release) == [
            "service billing-api has no active probe and no alert integration"
        ]

    def test_alert_integration_counts_as_coverage(self, release, world):
        from alerts.services import integrations as alert_integrations

        Probe.objects.filter(pk=world.probe.pk).update(state=Probe.State.PAUSED)
        integration, _key = alert_integrations.create_integration(
            actor=None, service=world.service, name="Prometheus", kind="alertmanager"
        )
        assert run("probe_coverage", release) == []
        alert_integrations.revoke_integration(integration=integration, actor=None)
        assert run("probe_coverage", release) == [
            "service billing-api has no active probe and no alert integration"
        ]

    def test_probe_without_runbook(self, release, world):
        Probe.objects.filter(pk=world.probe.pk).update(runbook=None)
        assert run("probe_coverage", release) == [
            f"probe '{world.probe.name}' on service billing-api links no runbook"
        ]


class TestRollbackTested:
    def test_never_tested(self, release):
        release.rollback_tested_at = None
        assert run("rollback_tested", release) == ["rollback was never tested"]

    def test_too_old(self, release, settings):
        settings.READINESS_ROLLBACK_TEST_MAX_AGE_DAYS = 2
        (reason,) = run("rollback_tested", release)
        assert "more than 2 days ago" in reason

    def test_no_evidence(self, release):
        release.rollback_evidence_url = ""
        assert run("rollback_tested", release) == ["rollback test has no evidence (link or note)"]


class TestOncallCoverage:
    def test_team_without_schedule(self, release, world):
        Schedule.objects.filter(team=world.team).delete()
        assert run("oncall_coverage", release) == [f"team {world.team.name} has no on-call schedule"]

    def test_gap_inside_window_plus_24h(self, release, world):
        # the layer ends 20 h after a 3 h window starts: the "+24 h after the window" part is uncovered
        end_at = release.window_start + timedelta(hours=20)
        RotationLayer.objects.filter(schedule__team=world.team).update(end_at=end_at)
        (reason,) = run("oncall_coverage", release)
        assert reason.startswith(f"team {world.team.name} has no one on call {end_at:%Y-%m-%d %H:%M} UTC - ")

    def test_override_fills_the_gap(self, release, world):
        end_at = release.window_start + timedelta(hours=20)
        RotationLayer.objects.filter(schedule__team=world.team).update(end_at=end_at)
        Override.objects.create(
            schedule=Schedule.objects.get(team=world.team),
            user=UserFactory(),
            start=end_at,
            end=end_at + timedelta(days=3),
        )
        assert run("oncall_coverage", release) == []

    def test_no_manager_named(self, release, world):
        world.team.manager = None
        world.team.save()
        assert run("oncall_coverage", release) == [f"team {world.team.name} has no engineering manager named"]


class TestNoMajorIncidents:
    def test_open_sev2_blocks(self, release, world):
        inc = declare(level=2, service=world.service)
        assert run("no_major_incidents", release) == [f"INC-{inc.number} (SEV-2) is open on billing-api"]

    def test_sev3_drill_and_other_services_do_not(self, release, world):
        declare(level=3, service=world.service)
        declare(level=1, service=world.service, drill=True)
        declare(level=1, service=ServiceFactory())
        assert run("no_major_incidents", release) == []

    def test_resolved_does_not(self, release, world):
        inc = declare(level=1, service=world.service)
        now = timezone.now()
        Incident.objects.filter(pk=inc.pk).update(
            status=Incident.Status.RESOLVED, mitigated_at=now, resolved_at=now
        )
        assert run("no_major_incidents", release) == []


class TestMonitoringLinks:
    def test_no_dashboard_link(self, release, world):
        ServiceLink.objects.filter(service=world.service).update(kind=ServiceLink.Kind.REPOSITORY)
        assert run("monitoring_links", release) == ["service billing-api has no dashboard link"]


class TestRehearsal:
    def test_not_required_below_high_risk(self, release):
        assert run("rehearsal_done", release) == []

    def test_high_risk_without_drill_fails(self, world):
        release = make_release(world, risk="high")
        (reason,) = run("rehearsal_done", release)
        assert reason.startswith("high-risk release: no drill incident in the last 90 days on billing-api")

    def test_drill_incident_counts(self, world):
        release = make_release(world, risk="high")
        declare(level=2, service=world.service, drill=True)
        assert run("rehearsal_done", release) == []

    def test_evidence_on_the_item_counts(self, world):
        from readiness import services

        release = make_release(world, risk="high")
        services.start_review(release=release, actor=world.lead)
        item = release.review.items.get(key="rehearsal")
        item.evidence_url = "https://docs.example.com/tabletop"
        assert run("rehearsal_done", release, item=item) == []
