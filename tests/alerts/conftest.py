"""A service whose team has someone on call, and integrations of every kind for it."""

from __future__ import annotations

import json
from datetime import date

import pytest

from alerts.models import Integration
from alerts.services import integrations
from notifications.models import Notification
from oncall.models import Page
from tests.factories import ServiceFactory, TeamFactory, UserFactory
from tests.oncall.factories import LayerFactory, PolicyFactory, ScheduleFactory, level


@pytest.fixture
def world(db, settings):
    settings.SITE_URL = "https://ops.example.com"
    team = TeamFactory(slug="payments", name="Payments")
    alice = UserFactory(username="alice", email="alice@example.com")
    primary = ScheduleFactory(team=team, name="Primary")
    LayerFactory(schedule=primary, people=[alice], start_date=date(2020, 1, 6))
    policy = PolicyFactory(team=team, name="Payments primary", is_team_default=True)
    level(policy, 1, delay=5, schedules=[primary])
    service = ServiceFactory(owner_team=team, slug="billing-api", name="Billing API")
    return {"team": team, "alice": alice, "policy": policy, "service": service}


@pytest.fixture
def make_integration(world):
    def make(kind=Integration.Kind.ALERTMANAGER, **config):
        config.setdefault("name", f"{kind} integration")
        return integrations.create_integration(actor=None, service=world["service"], kind=kind, **config)

    return make


def am_payload(
    status="firing", *, fingerprint="fp1", alertname="HighErrorRate", group_key=None, **annotations
):
    """An Alertmanager webhook (version 4) body, as documented at
    https://prometheus.io/docs/alerting/latest/configuration/#webhook_config"""
    annotations.setdefault("summary", "Error rate over 5%")
    return json.dumps({
        "version": "4", "groupKey": group_key or f'{{}}:{{alertname="{alertname}"}}', "truncatedAlerts": 0,
        "status": status, "receiver": "ops-portal", "groupLabels": {"alertname": alertname},
        "commonLabels": {"alertname": alertname}, "commonAnnotations": annotations,
        "externalURL": "http://alertmanager.example.com:9093",
        "alerts": [{
            "status": status, "labels": {"alertname": alertname, "severity": "critical", "instance": "web-1"},
            "annotations": annotations, "startsAt": "2026-03-03T09:58:00.123456789Z",
            "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://prometheus.example.com/graph?g0.expr=up",
            "fingerprint": fingerprint,
        }],
    })  # fmt: skip


def pages_of(service):
    return list(Page.objects.filter(service=service).order_by("pk"))


def page_messages(page):
    return list(Notification.objects.filter(event_key__startswith=f"oncall:page:{page.pk}:").order_by("pk"))
