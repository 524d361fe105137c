"""Demo probes: the portal's own /healthz, a TLS certificate, a TCP port, heartbeats for
billing event processing (fed every minute by a demo beat task) and webhook delivery, and
a recurring maintenance window.

``make run`` runs DEBUG, where the probe guard allows loopback. With DEBUG off (``seed_demo
--force``) the guard refuses loopback and private addresses unless ``OUTBOUND_ALLOWED_NETWORKS``
allows them; the guard is not bent for the demo. A demo probe whose target the guard refuses
is created *paused*, its description saying why and how to allow it, so a production-like demo
neither aborts nor pages anyone about a target it may not reach. A later run that may reach the
target resumes it (a probe a person paused stays paused). Targets are names (``SITE_URL``'s
host, ``localhost``), which the guard checks at every connect; a literal loopback IP would be
refused when saved."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import urlsplit

from django.conf import settings

from notifications import outbound
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
        "kind": "tcp", "host": "localhost", "port": 5432, "interval_seconds": 60, "timeout_seconds": 3}),
    ("billing-events", "Billing event processing", "billing-webhook-backlog", {
        "kind": "heartbeat", "period_seconds": 60, "grace_seconds": 60, "incident_severity": 2}),
    ("webhook-delivery", "Webhook delivery sweep", "webhook-delivery-stuck", {
        "kind": "heartbeat", "cron": "*/5 * * * *", "cron_timezone": "Europe/Berlin", "grace_seconds": 120}),
]  # fmt: skip


PAUSED_MARK = "Paused by the demo data:"


def _target(fields: dict) -> tuple[str, int] | None:
    if fields["kind"] == "http":
        url = urlsplit(fields["url"])
        return url.hostname or "", url.port or (443 if url.scheme == "https" else 80)
    if fields["kind"] in ("tls", "tcp"):
        return fields["host"], fields["port"]
    return None  # heartbeats are pinged, never connected to


def refusal(fields: dict) -> str | None:
    """Why the probe guard would refuse this target right now (as at every run), or None.
    A name that does not resolve here is not refused: the probe reports that honestly."""
    target = _target(fields)
    if target is None:
        return None
    try:
        outbound.resolve(*target, timeout=5)
    except outbound.Refused as exc:
        return str(exc)
    except OSError:
        return None
    return None


def _paused_description(reason: str) -> str:
    return (
        f"{PAUSED_MARK} the probe guard refuses this target ({reason}). To probe it, add its "
        "network to OUTBOUND_ALLOWED_NETWORKS (e.g. 127.0.0.0/8,::1/128 for this machine), then "
        "resume the probe."
    )


def _save(ctx, service, name, runbook, fields) -> Probe:
    probe = Probe.objects.filter(service=service, name=name).first()
    reason = refusal(fields)
    demo_paused = probe is not None and probe.description.startswith(PAUSED_MARK)
    person_paused = probe is not None and probe.state == Probe.State.PAUSED and not demo_paused
    if reason and not person_paused:
        extra = {"description": _paused_description(reason)}
    else:
        extra = {"description": ""} if demo_paused and not reason else {}
    probe = services.save_probe(probe=probe, service=service, name=name, runbook=runbook, **fields, **extra)
    if reason and probe.state != Probe.State.PAUSED:
        probe = services.pause_probe(probe=probe, actor=ctx.users.get("admin"))
    elif not reason and demo_paused and probe.state == Probe.State.PAUSED:
        probe = services.resume_probe(probe=probe, actor=ctx.users.get("admin"))
    return probe


def seed(ctx) -> str:
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    runbooks = getattr(ctx, "runbooks", {})
    ctx.probes = {}
    for service_slug, name, runbook_slug, fields in PROBES:
        ctx.probes[name] = _save(ctx, ctx.services[service_slug], name, runbooks.get(runbook_slug), fields)
    paused = [name for name, probe in ctx.probes.items() if probe.description.startswith(PAUSED_MARK)]
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
    note = f" ({len(paused)} paused: the probe guard refuses their target - see OUTBOUND_ALLOWED_NETWORKS)"
    return f"{len(PROBES)} probes{note if paused else ''}, 1 maintenance window, demo heartbeat task"
