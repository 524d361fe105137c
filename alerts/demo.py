"""Demo integrations with a little history: an Alertmanager for the platform team (a disk
alert that fired and resolved itself, a replication-lag warning that notified the team), a
PagerDuty-compatible one for payments (a recorded info event) and a Grafana and an e-mail
integration with nothing received yet. The disk alert paged three hours ago and its page
resolved itself with the alert."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from django.utils import timezone

from alerts import services
from alerts.models import Integration
from alerts.services import integrations

INTEGRATIONS = [
    # service, name, kind, config
    ("postgres-primary", "Prometheus (platform)", Integration.Kind.ALERTMANAGER,
     {"group_by": "alertname,instance", "rules": [
         {"name": "replication", "match": {"labels": {"alertname": "PostgresReplicationLag"}}, "urgency": "notify"}]}),
    ("billing-api", "Checkout monitors (PagerDuty format)", Integration.Kind.PAGERDUTY, {"storm_threshold": 5}),
    ("web-app", "Grafana (web)", Integration.Kind.GRAFANA, {"severity_map": {"warning": "record"}}),
    ("job-queue", "Queue alerts mailbox", Integration.Kind.EMAIL, {}),
]  # fmt: skip


def _am(status: str, name: str, instance: str, summary: str, started: datetime, **annotations) -> bytes:
    return json.dumps({
        "version": "4", "groupKey": f'{{}}:{{alertname="{name}"}}', "status": status, "receiver": "ops-portal",
        "alerts": [{
            "status": status, "labels": {"alertname": name, "instance": instance, "severity": "critical"},
            "annotations": {"summary": summary, **annotations}, "startsAt": started.isoformat(),
            "fingerprint": f"demo-{name}-{instance}"}],
    }).encode()  # fmt: skip


def _send(integration: Integration, body: bytes, at) -> None:
    """As the ingestion endpoint does: keep the raw body and apply its alerts."""
    alerts = integrations.parse(integration, body)
    services.receive(
        integration=integration, body=body, content_type="application/json", alerts=alerts, now=at
    )


def seed(ctx) -> str:
    made = {}
    for slug, name, kind, config in INTEGRATIONS:
        service = ctx.services[slug]
        integration = Integration.objects.filter(service=service, name=name).first()
        if integration is None:
            integration, _key = integrations.create_integration(
                actor=ctx.users["maya"], service=service, name=name, kind=kind, **config
            )
        made[name] = integration
    prom = made["Prometheus (platform)"]
    if not prom.groups.exists():
        now = timezone.now()
        started = (now - timedelta(hours=3)).replace(microsecond=0).astimezone(UTC)
        disk = "Disk 92% full on pg-1"
        for status, at in (("firing", now - timedelta(hours=3)), ("resolved", now - timedelta(hours=2))):
            body = _am(status, "PostgresDiskFilling", "pg-1:9187", disk, started,
                       runbook_url="https://runbooks.example.com/postgres/disk")  # fmt: skip
            _send(prom, body, at)
        body = _am("firing", "PostgresReplicationLag", "pg-2:9187", "Replica pg-2 is 45 s behind", now)
        _send(prom, body, now)
        pd = made["Checkout monitors (PagerDuty format)"]
        event = {"event_action": "trigger", "dedup_key": "checkout-latency-info",
                 "payload": {"summary": "Checkout p95 latency back under 300 ms", "source": "synthetics",
                             "severity": "info"}}  # fmt: skip
        _send(pd, json.dumps(event).encode(), now)
    return (
        f"{len(made)} alert integrations, demo alerts recorded (keys: rotate one in the admin to get its URL)"
    )
