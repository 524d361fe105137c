"""Demo probes: the portal's own /healthz, a TLS certificate, a TCP port, heartbeats for
billing event processing (fed every minute by a demo beat task) and webhook delivery, and
a recurring maintenance window. ``make run`` runs DEBUG, where loopback targets are allowed."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from django.conf import settings

from probes import services
from probes.models import MaintenanceWindow, Probe

DEMO_HEARTBEAT_TASK = "probes: demo heartbeat (billing events)"

PROBES = [
    # service, name, runbook slug, fields
    ("api-gateway", "Portal /healthz", "deployment-rollback", {
        "kind": "http", "url": f"{settings.SITE_URL}/healthz", "json_path": "status", "json_expected": "ok",
        "interval_seconds": 30, "timeout_seconds": 5, "latency_threshold_ms": 500, "incident_severity": 2}),
    ("custom-domains", "example.com TLS certificate", "tls-certificate-renewal", {
        "kind": "tls", "host": "example.com", "port": 443, "interval_seconds": 3600, "timeout_seconds": 10}),
    ("postgres-primary", "PostgreSQL port", "database-failover", {
        "kind": "tcp", "host": "127.0.0.1", "port": 5432, "interval_seconds": 60, "timeout_seconds": 3}),
    ("billing-events", "Billing event processing", "billing-webhook-backlog", {
        "kind": "heartbeat", "period_seconds": 60, "grace_seconds": 60, "incident_severity": 2}),
    ("webhook-delivery", "Webhook delivery sweep", "webhook-delivery-stuck", {
        "kind": "heartbeat", "cron": "*/5 * * * *", "cron_timezone": "Europe/Berlin", "grace_seconds": 120}),
]  # fmt: skip


def seed(ctx) -> str:
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    runbooks = getattr(ctx, "runbooks", {})
    ctx.probes = {}
    for service_slug, name, runbook_slug, fields in PROBES:
        service = ctx.services[service_slug]
        probe = Probe.objects.filter(service=service, name=name).first()
        ctx.probes[name] = services.save_probe(
            probe=probe, service=service, name=name, runbook=runbooks.get(runbook_slug), **fields
        )
    billing = ctx.probes["Billing event processing"]
    every_minute, _ = IntervalSchedule.objects.get_or_create(every=60, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.update_or_create(
        name=DEMO_HEARTBEAT_TASK,
        defaults={
            "task": "probes.demo_heartbeat",
            "interval": every_minute,
            "queue": "probes",
            "kwargs": json.dumps({"probe_uuid": str(billing.uuid)}),
            "description": "Demo data: plays the billing event processor reporting in.",
            "enabled": True,
        },
    )
    services.record_ping(ping_uuid=billing.uuid)  # first ping now: the heartbeat starts up
    if not MaintenanceWindow.objects.filter(service=ctx.services["search"], reason="Weekly reindex").exists():
        services.save_maintenance_window(
            service=ctx.services["search"],
            reason="Weekly reindex",
            starts_at=datetime(2026, 1, 1, tzinfo=UTC),
            recurrence_cron="0 2 * * SUN",
            recurrence_timezone="Europe/Berlin",
            duration_minutes=90,
            actor=ctx.users["maya"],
        )
    return f"{len(PROBES)} probes, 1 maintenance window, demo heartbeat task"
