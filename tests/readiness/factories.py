"""Readiness test data: a "ready world" (every automatic check passes) built through the
lower apps' factories, and releases created through the services."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.utils import timezone

from accounts import roles
from catalog.models import Service, Team
from probes.models import Probe
from readiness import services
from readiness.models import Release
from runbooks.models import Runbook
from tests.factories import ServiceFactory, ServiceLinkFactory, TeamFactory, UserFactory
from tests.oncall.factories import LayerFactory, ScheduleFactory
from tests.probes.factories import ProbeFactory
from tests.runbooks.factories import RunbookFactory


@dataclass
class World:
    team: Team
    service: Service
    runbook: Runbook
    probe: Probe
    lead: object


def ready_world(*, slug: str = "billing-api", lead=None) -> World:
    manager = UserFactory(username=f"mgr-{slug}", is_staff=True, roles=[roles.MANAGERS])
    team = TeamFactory(manager=manager, name=f"Team {slug}", slug=f"team-{slug}")
    service = ServiceFactory(owner_team=team, slug=slug, name=slug)
    runbook = RunbookFactory(
        owner_team=team, services=[service], last_reviewed_at=timezone.now() - timedelta(days=5)
    )
    probe = ProbeFactory(service=service, runbook=runbook, state=Probe.State.UP)
    ServiceLinkFactory(service=service)
    oncall_person = UserFactory(username=f"oncall-{slug}")
    LayerFactory(schedule=ScheduleFactory(team=team), people=[oncall_person], start_date=date(2026, 1, 5))
    lead = lead or UserFactory(username="lead-" + slug, is_staff=True, roles=[roles.RELEASE_LEADS])
    return World(team, service, runbook, probe, lead)


def make_release(
    world: World,
    *,
    risk: str = "low",
    start_in: timedelta = timedelta(hours=-1),
    length: timedelta = timedelta(hours=3),
    name: str = "Billing",
    version: str = "1.0",
    **extra,
) -> Release:
    now = timezone.now()
    fields = {
        "rollback_plan": "Redeploy the previous tag.",
        "rollback_minutes": 10,
        "rollback_tested_at": now - timedelta(days=3),
        "rollback_evidence_url": "https://docs.example.com/rollback-drill",
        **extra,
    }
    return services.create_release(
        actor=world.lead,
        services=[world.service],
        name=name,
        version=version,
        release_lead=world.lead,
        window_start=now + start_in,
        window_end=now + start_in + length,
        risk=risk,
        **fields,
    )


def complete_manual_items(release: Release, actor) -> None:
    for item in release.review.items.filter(check_key="").order_by("position"):
        services.update_item(
            item=item, actor=actor, state="pass", evidence_url=f"https://docs.example.com/{item.key}"
        )
