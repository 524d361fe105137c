"""Demo incidents: six months of history across severities and services, two open ones.

Everything goes through ``incidents.services`` (inside ``services.quiet()``: history is
imported, nobody is paged or e-mailed), with explicit past times that respect every
timestamp constraint. Idempotent: an incident whose demo title already exists is kept.

Adds ``ctx.incidents``: demo key -> Incident (e.g. ``ctx.incidents["webhook-delays"]`` is the
open SEV-2 with a customer message, ``ctx.incidents["search-latency"]`` the open SEV-3;
``ctx.open_incidents`` lists the open ones).
"""

from __future__ import annotations

import contextlib
import random
from datetime import UTC, datetime, timedelta

from django.utils import timezone

from incidents import services
from incidents.defaults import ensure_severities
from incidents.models import Incident
from opsportal.errors import Conflict

# key, days ago, level, service slugs, title, detection source, drill
PAST = [
    ("pg-failover", 172, 1, ["postgres-primary", "billing-api"], "PostgreSQL primary failover stalled writes", "monitoring", False),
    ("stripe-signature", 165, 2, ["stripe-webhooks"], "Stripe webhook signature checks failing", "slo", False),
    ("tls-renewal", 158, 2, ["tls-manager", "custom-domains"], "Certificate renewals failing for custom domains", "monitoring", False),
    ("search-index", 151, 3, ["search"], "Search index rebuild stuck", "manual", False),
    ("gateway-5xx", 147, 1, ["api-gateway", "web-app"], "API gateway returning 5xx for all regions", "monitoring", False),
    ("invoice-pdf", 140, 3, ["invoicing"], "Invoice PDFs rendered without line items", "support", False),
    ("job-queue-backlog", 133, 2, ["job-queue", "webhook-delivery"], "Job queue backlog delays webhooks", "slo", False),
    ("dns-propagation", 127, 2, ["dns-resolver"], "DNS changes not propagating", "support", False),
    ("gameday-db", 120, 1, ["postgres-primary"], "Game day: primary database loss", "manual", True),
    ("redis-evictions", 114, 3, ["redis-cache"], "Redis evicting rate-limit keys", "monitoring", False),
    ("checkout-double", 108, 1, ["checkout", "billing-api"], "Checkout charged some customers twice", "support", False),
    ("connector-auth", 101, 3, ["connector-sync"], "Salesforce connectors failing auth refresh", "support", False),
    ("deploy-timeouts", 95, 2, ["deploy-orchestrator"], "Deployments timing out on GCP", "slo", False),
    ("replica-disk", 90, 4, ["postgres-primary"], "Replica disk usage above 80%", "monitoring", False),
    ("fivetran-retries", 84, 3, ["fivetran-hooks"], "Fivetran callbacks retried in a loop", "monitoring", False),
    ("billing-events-lag", 78, 2, ["billing-events"], "Billing events processed hours late", "slo", False),
    ("web-login", 71, 2, ["web-app"], "Dashboard logins failing for SSO customers", "support", False),
    ("cert-expiry-warning", 66, 4, ["tls-manager"], "Wildcard certificate expires in 14 days", "monitoring", False),
    ("gateway-ratelimit", 60, 3, ["api-gateway"], "Rate limits applied to the wrong tenants", "support", False),
    ("webhook-dupes", 54, 3, ["webhook-delivery"], "Duplicate webhook deliveries", "support", False),
    ("tabletop-breach", 48, 2, ["web-app"], "Tabletop: leaked API token", "manual", True),
    ("dns-outage", 43, 1, ["dns-resolver", "custom-domains"], "Authoritative DNS outage", "monitoring", False),
    ("queue-workers", 37, 3, ["job-queue"], "Job workers crash-looping after deploy", "monitoring", False),
    ("invoice-tax", 31, 3, ["invoicing"], "Wrong tax rate on EU invoices", "support", False),
    ("checkout-latency", 26, 2, ["checkout"], "Checkout p95 latency above 4 s", "slo", False),
    ("noisy-alert", 21, 4, ["deploy-orchestrator"], "Flapping disk alert on build runners", "monitoring", False),
    ("stripe-api", 16, 2, ["stripe-webhooks", "billing-events"], "Stripe API errors during upstream incident", "monitoring", False),
    ("connector-schedules", 12, 3, ["connector-sync"], "Connector schedules skipped overnight", "manual", False),
    ("search-errors", 8, 3, ["search"], "Search returns errors for quoted queries", "support", False),
    ("gateway-cert", 4, 2, ["api-gateway"], "Gateway served an expired intermediate certificate", "monitoring", False),
]  # fmt: skip

# incident key -> runbook slug used (runbooks/demo.py seeds them before us)
RUNBOOKS_USED = {
    "pg-failover": "database-failover",
    "gameday-db": "database-failover",
    "tls-renewal": "tls-certificate-renewal",
    "dns-outage": "dns-failover",
    "redis-evictions": "redis-cache-eviction-storm",
    "job-queue-backlog": "webhook-delivery-stuck",
    "deploy-timeouts": "deployment-rollback",
    "webhook-delays": "webhook-delivery-stuck",
}
UPDATE_LINES = [
    "Investigating elevated error rates; dashboards linked in the channel.",
    "Cause identified: a configuration change rolled out this morning. Rolling back.",
    "Rollback complete; error rates back to baseline. Monitoring.",
]
CUSTOMER_LINES = [
    "Some customers may see errors. Our engineers are working on a fix.",
    "A fix is in place and we are monitoring the results.",
]


def _past_times(rng: random.Random, days_ago: int, level: int) -> dict[str, datetime]:
    today = timezone.now().astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    detected = (
        today - timedelta(days=days_ago) + timedelta(hours=rng.randint(1, 22), minutes=rng.randint(0, 59))
    )
    started = detected - timedelta(minutes=rng.randint(0, 25))
    ack = detected + timedelta(minutes={1: rng.randint(1, 7), 2: rng.randint(3, 20), 3: rng.randint(20, 300),
                                        4: rng.randint(300, 1500)}[level])  # fmt: skip
    identified = ack + timedelta(minutes=rng.randint(5, 60))
    mitigated = identified + timedelta(minutes=rng.randint(5, 90))
    resolved = mitigated + timedelta(minutes=rng.randint(10, 240))
    closed = resolved + timedelta(days=rng.randint(1, 6))
    return {"started": started, "detected": detected, "ack": ack, "identified": identified,
            "mitigated": mitigated, "resolved": resolved, "closed": closed}  # fmt: skip


def _people(ctx, service):
    team = service.owner_team
    members = [u for u in team.members.all() if u.groups.filter(name="Responders").exists()]
    return team.manager, members or [team.manager]


def _seed_past(ctx, rng, key, days_ago, level, slugs, title, source, drill):
    svcs = [ctx.services[s] for s in slugs]
    manager, responders = _people(ctx, svcs[0])
    t = _past_times(rng, days_ago, level)
    commander = rng.choice(responders)
    incident = services.declare_incident(
        title=title,
        severity=level,
        services=svcs,
        actor=manager if source == "manual" else None,
        detection_source=source,
        detected_at=t["detected"],
        started_at=t["started"],
        drill=drill,
        summary=f"{title}. Demo history: {svcs[0].owner_team.name} handled it.",
        customers_affected=None if level == 4 else rng.choice([3, 12, 40, 150, 900]),
    )
    services.acknowledge(incident=incident, actor=commander, at=t["ack"])
    if level <= 2:
        services.post_update(
            incident=incident, actor=commander, audience="internal", text=UPDATE_LINES[0],
            at=t["ack"] + timedelta(minutes=2),
        )  # fmt: skip
        services.post_update(
            incident=incident, actor=commander, audience="external", text=CUSTOMER_LINES[0],
            replace_customer_message=True, at=t["ack"] + timedelta(minutes=4),
        )  # fmt: skip
    services.identify(incident=incident, actor=commander, at=t["identified"], note=UPDATE_LINES[1])
    services.add_note(
        incident=incident, actor=rng.choice(responders), text="Graphs and logs attached in the channel.",
        occurred_at=t["identified"] - timedelta(minutes=2),
    )  # fmt: skip
    runbook = getattr(ctx, "runbooks", {}).get(RUNBOOKS_USED.get(key, ""))
    if runbook is not None:
        services.link_runbook(
            incident=incident, runbook=runbook, actor=commander, at=t["identified"] + timedelta(minutes=1)
        )
    services.mitigate(incident=incident, actor=commander, at=t["mitigated"], note=UPDATE_LINES[2])
    if level <= 2:
        services.post_update(
            incident=incident, actor=commander, audience="external", text=CUSTOMER_LINES[1],
            replace_customer_message=True, at=t["mitigated"] + timedelta(minutes=3),
        )  # fmt: skip
    services.resolve(incident=incident, actor=commander, at=t["resolved"])
    if not incident.peak_severity.postmortem_required or drill:
        # a close guard (e.g. postmortems) may want more first: then it stays resolved
        with contextlib.suppress(Conflict):
            services.close(incident=incident, actor=manager, at=t["closed"])
    incident.refresh_from_db()
    return incident


def _seed_open(ctx) -> dict[str, Incident]:
    now = timezone.now()
    out = {}
    users = ctx.users
    key, title = "webhook-delays", "Webhook deliveries delayed for EU customers"
    incident = Incident.objects.filter(title=title).first()
    if incident is None:
        incident = services.declare_incident(
            title=title,
            severity=2,
            services=[ctx.services["webhook-delivery"], ctx.services["job-queue"]],
            actor=None,
            detection_source="slo",
            detected_at=now - timedelta(minutes=70),
            started_at=now - timedelta(minutes=85),
            summary="Webhook delivery latency SLO burning fast since a worker pool resize.",
            customer_impact="Webhooks arrive 10-40 minutes late for EU tenants.",
            customers_affected=120,
            channel_url="https://chat.example.com/channels/inc-webhooks",
            tags="webhooks, eu",
        )
        services.acknowledge(incident=incident, actor=users["erik"], at=now - timedelta(minutes=64))
        services.assign_role(incident=incident, actor=users["lena"], role="comms_lead", user=users["lena"])
        services.post_update(
            incident=incident, actor=users["erik"], audience="internal",
            text="Worker pool shrank to 4 after the resize; scaling back to 16.", at=now - timedelta(minutes=55),
        )  # fmt: skip
        services.identify(incident=incident, actor=users["erik"], at=now - timedelta(minutes=50))
        runbook = getattr(ctx, "runbooks", {}).get(RUNBOOKS_USED[key])
        if runbook is not None:
            services.link_runbook(
                incident=incident, runbook=runbook, actor=users["erik"], at=now - timedelta(minutes=48)
            )
        services.post_update(
            incident=incident, actor=users["lena"], audience="external",
            text="Some webhooks to EU endpoints are delayed. Nothing is lost: every delivery will arrive. "
            "Next update within the hour.",
            replace_customer_message=True, at=now - timedelta(minutes=45),
        )  # fmt: skip
        services.add_reported_customers(incident=incident, count=3)
        incident.refresh_from_db()
    out[key] = incident

    key, title = "search-latency", "Dashboard search slow for large workspaces"
    incident = Incident.objects.filter(title=title).first()
    if incident is None:
        incident = services.declare_incident(
            title=title,
            severity=3,
            services=[ctx.services["search"]],
            actor=users["grace"],
            detection_source="support",
            detected_at=now - timedelta(hours=3),
            summary="Queries over 50k documents take 8-12 s.",
            customer_impact="Search is slow; results are correct.",
            customers_affected=15,
        )
    out[key] = incident
    return out


def seed(ctx) -> str:
    ensure_severities()
    rng = random.Random(20260101)  # noqa: S311 - demo data, same history every run
    ctx.incidents = {}
    created = 0
    with services.quiet():
        for key, days_ago, level, slugs, title, source, drill in PAST:
            existing = Incident.objects.filter(title=title).first()
            # Draw the same random numbers whether or not the incident exists (stable history).
            state = rng.getstate()
            if existing is None:
                ctx.incidents[key] = _seed_past(ctx, rng, key, days_ago, level, slugs, title, source, drill)
                created += 1
            else:
                ctx.incidents[key] = existing
            rng.setstate(state)
            rng.random()
        open_ones = _seed_open(ctx)
        ctx.incidents.update(open_ones)
    ctx.open_incidents = list(open_ones.values())
    return f"{len(ctx.incidents)} incidents ({created} new, {len(open_ones)} open)"
