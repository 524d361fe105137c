"""Deployments and readiness: a release's shipped / rolled back records its deployment, the
gate carries each service's last deploy, the recent change failure check warns, a real
rollback is rollback evidence; "caused by" links decide change failures."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from accounts import roles
from deployments import selectors, services
from deployments.models import Deployment, IncidentLink
from deployments.readiness_wiring import recent_change_failures
from opsportal.errors import InvalidInput, NotAllowed
from readiness import checks
from readiness import selectors as readiness_selectors
from readiness import services as readiness_services
from tests.deployments.factories import deploy
from tests.factories import UserFactory
from tests.incidents.factories import declare
from tests.readiness.factories import complete_manual_items, make_release, ready_world

pytestmark = pytest.mark.django_db


def approved(world, **extra):
    release = make_release(world, **extra)
    readiness_services.start_review(release=release, actor=world.lead)
    complete_manual_items(release, world.lead)
    for item in release.review.items.exclude(check_key="").exclude(state="pass"):
        readiness_services.update_item(item=item, actor=world.lead, state="waived", waiver_reason="test")
    readiness_services.sign(release=release, actor=world.lead)
    release.refresh_from_db()
    assert release.status == "approved"
    return release


class TestReleases:
    def test_shipping_a_release_records_its_deployment(self):
        world = ready_world()
        release = approved(world)
        readiness_services.mark_shipped(release=release, actor=world.lead)
        d = Deployment.objects.get(release=release)
        assert (d.status, d.version, list(d.services.all())) == ("succeeded", "1.0", [world.service])
        assert d.reviewed
        assert d.rollback_tested
        assert not d.change_failure

    def test_shipping_finishes_the_deployment_the_pipeline_started(self):
        world = ready_world()
        release = approved(world)
        running = deploy(actor=world.lead, service=world.service, release=release, outcome=None,
                         started_at=timezone.now() - timedelta(minutes=5))  # fmt: skip
        readiness_services.mark_shipped(release=release, actor=world.lead)
        running.refresh_from_db()
        assert running.status == "succeeded"
        assert Deployment.objects.count() == 1

    def test_rolling_back_a_shipped_release_makes_its_deployment_a_change_failure(self):
        world = ready_world()
        release = approved(world)
        readiness_services.mark_shipped(release=release, actor=world.lead)
        readiness_services.mark_rolled_back(release=release, actor=world.lead)
        d = Deployment.objects.get(release=release)
        assert (d.status, d.change_failure) == ("rolled_back", True)
        assert d.rolled_back_at >= d.finished_at

    def test_the_gate_carries_each_services_last_deploy(self):
        world = ready_world()
        release = approved(world)
        deploy(actor=world.lead, service=world.service, started_at=timezone.now() - timedelta(days=2),
               outcome="rolled_back", version="0.9")  # fmt: skip
        result = readiness_selectors.gate(release)
        assert result.last_deploys == [
            {"service": "billing-api", "deployment": Deployment.objects.get().pk, "version": "0.9",
             "status": "rolled_back", "started_at": Deployment.objects.get().started_at,
             "finished_at": Deployment.objects.get().finished_at}
        ]  # fmt: skip

    def test_the_gate_api_answers_the_last_deploy(self, api_as):
        world = ready_world()
        release = approved(world)
        r = api_as(world.lead).get(f"/api/v1/releases/{release.pk}/gate/")
        assert r.status_code == 200
        assert r.json()["last_deploys"] == [
            {"service": "billing-api", "deployment": None, "version": None, "status": None,
             "started_at": None, "finished_at": None}
        ]  # fmt: skip

    @override_settings(DEPLOYMENTS_CHANGE_FAILURE_WARN_RATIO=0.2, DEPLOYMENTS_CHANGE_FAILURE_SAMPLE=10)
    def test_recent_change_failures_warns_over_the_setting(self):
        world = ready_world()
        release = approved(world)
        now = timezone.now()
        for i in range(12):  # the two oldest failures fall outside the last 10
            outcome = "failed" if i in (0, 1, 5, 8) else "succeeded"
            deploy(
                actor=world.lead,
                service=world.service,
                started_at=now - timedelta(hours=20 - i),
                outcome=outcome,
            )
        assert recent_change_failures(release, now=now) == []  # 2 of the last 10: 20%, not above
        deploy(
            actor=world.lead,
            service=world.service,
            started_at=now - timedelta(hours=1),
            outcome="rolled_back",
        )
        reasons = recent_change_failures(release, now=now)
        assert reasons == [
            "service billing-api: 3 of its last 10 deploys were change failures (30%, above 20%)"
        ]
        assert "recent_change_failures" in checks.REGISTRY
        assert readiness_selectors.gate(release).warnings[-1] == reasons[0]  # a warning, never a blocker

    def test_a_real_rollback_is_rollback_evidence(self):
        world = ready_world()
        release = make_release(world, rollback_tested_at=None, rollback_evidence_url="")
        now = timezone.now()
        assert checks.run("rollback_tested", release, now=now) == ["rollback was never tested"]
        deploy(
            actor=world.lead,
            service=world.service,
            started_at=now - timedelta(days=10),
            outcome="rolled_back",
        )
        assert checks.run("rollback_tested", release, now=now) == []
        later = deploy(actor=world.lead, service=world.service, started_at=now - timedelta(hours=2))
        assert later.rollback_tested  # the deploy after a real rollback carries the evidence


class TestLinks:
    def test_confirm_then_deny_moves_the_change_failure(self):
        world = ready_world()
        manager = UserFactory(username="boss", is_staff=True, roles=[roles.MANAGERS])
        now = timezone.now()
        d = deploy(actor=world.lead, service=world.service, started_at=now - timedelta(hours=3))
        incident = declare(actor=manager, service=world.service, started_at=now - timedelta(hours=2),
                           detected_at=now - timedelta(hours=2))  # fmt: skip
        [s] = selectors.suggestions(incident)
        assert (s.deployment, s.minutes_before, s.when_text) == (d, 50, "50 min")
        services.decide_link(actor=manager, deployment=d, incident=incident, verdict="confirmed")
        d.refresh_from_db()
        assert d.change_failure
        services.decide_link(actor=manager, deployment=d, incident=incident, verdict="denied")
        d.refresh_from_db()
        assert not d.change_failure
        assert IncidentLink.objects.get().verdict == "denied"
        assert incident.timeline.filter(data__deployment=d.pk).count() == 2

    def test_a_deploy_outside_the_window_or_another_service_is_no_candidate(self):
        world = ready_world()
        other = ready_world(slug="search")
        manager = UserFactory(username="boss", is_staff=True, roles=[roles.MANAGERS])
        now = timezone.now()
        old = deploy(actor=world.lead, service=world.service, started_at=now - timedelta(hours=30))
        elsewhere = deploy(actor=world.lead, service=other.service, started_at=now - timedelta(hours=3))
        after = deploy(actor=world.lead, service=world.service, started_at=now - timedelta(minutes=30),
                       minutes=5)  # fmt: skip
        incident = declare(actor=manager, service=world.service, started_at=now - timedelta(hours=1),
                           detected_at=now - timedelta(hours=1))  # fmt: skip
        assert selectors.suggestions(incident) == []
        for d in (old, elsewhere, after):
            with pytest.raises(InvalidInput, match="not a candidate"):
                services.decide_link(actor=manager, deployment=d, incident=incident, verdict="confirmed")
        assert not IncidentLink.objects.exists()

    def test_only_people_who_run_incidents_decide(self, release_lead, support_user):
        world = ready_world()
        now = timezone.now()
        d = deploy(actor=world.lead, service=world.service, started_at=now - timedelta(hours=3))
        incident = declare(service=world.service, started_at=now - timedelta(hours=2),
                           detected_at=now - timedelta(hours=2))  # fmt: skip
        for user in (release_lead, support_user):
            with pytest.raises(NotAllowed):
                services.decide_link(actor=user, deployment=d, incident=incident, verdict="confirmed")

    def test_the_room_panel_offers_confirm_and_deny(self, client):
        world = ready_world()
        manager = UserFactory(username="boss", is_staff=True, roles=[roles.MANAGERS])
        now = timezone.now()
        deploy(actor=world.lead, service=world.service, started_at=now - timedelta(hours=3), version="3.2.0")
        incident = declare(actor=manager, service=world.service, started_at=now - timedelta(hours=2),
                           detected_at=now - timedelta(hours=2))  # fmt: skip
        client.force_login(manager)
        html = client.get(f"/admin/incidents/incident/{incident.pk}/change/").content.decode()
        assert "Likely caused by" in html
        assert "billing-api 3.2.0" in html
        assert "50 min before impact began" in html
        assert "Confirm billing-api 3.2.0 caused this" in html
        client.force_login(world.lead)  # a release lead reads the room, may not decide
        html = client.get(f"/admin/incidents/incident/{incident.pk}/change/").content.decode()
        assert "billing-api 3.2.0" in html
        assert "Confirm billing-api" not in html
        r = client.post(
            f"/admin/deployments/deployment/link/{incident.pk}/{Deployment.objects.get().pk}/confirmed/"
        )
        assert r.status_code == 403


class TestBreakdowns:
    @override_settings(TIME_ZONE="America/New_York")
    def test_weekday_and_hour_are_local(self):
        """A deploy at Saturday 02:30 UTC is Friday 21:30 in New York: it counts for Friday."""
        from datetime import UTC, datetime

        from metrics import delivery
        from metrics.selectors import Filters

        world = ready_world()
        started = datetime(2026, 3, 7, 2, 30, tzinfo=UTC)
        deploy(actor=world.lead, service=world.service, started_at=started, outcome="failed")
        report = delivery.breakdowns(
            Filters(start=started - timedelta(days=1), end=started + timedelta(days=1))
        )
        by_day = {row["weekday"]: row for row in report["by_weekday"]}
        assert by_day["Fri"]["change_failures"] == 1
        assert by_day["Sat"]["deployments"] == 0
        assert report["by_hour"][21]["deployments"] == 1
