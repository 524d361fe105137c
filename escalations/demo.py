"""Demo: sam (support) with a few past escalations - resolved with a reply, acknowledged,
one attached to an open incident, one new question - and the support-triage policy set.

Past escalations are history, so they are written as rows (like an import) instead of being
filed through the services, which would page today's on-call for last week's problems. The
attachment to the open incident goes through the service (timeline event, reported count).
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from escalations import services
from escalations.models import Escalation, Impact, SupportSettings
from incidents import services as incident_services
from incidents.models import Incident
from oncall.models import EscalationPolicy

HISTORY = [
    # customer, contact, service slug, impact, summary, hours ago, acknowledged by, reply
    ("globex", "it@globex.example", "webhook-delivery", Impact.DEGRADED,
     "Webhooks arrive 20-30 minutes late since this morning.", 50, "erik",
     "A retry queue was backed up after a deploy; drained at 11:40 UTC. Deliveries are on time again."),
    ("initech", "+1 555 0100 (Peter)", "custom-domains", Impact.BLOCKED,
     "app.initech.example shows a certificate warning to every visitor.", 20, "george", ""),
    ("umbrella-health", "ticket #48213", None, Impact.QUESTION,
     "Asks whether exports include deleted records; not sure which service owns exports.", 2, None, ""),
]  # fmt: skip


def _triage_policy(ctx) -> EscalationPolicy | None:
    platform = ctx.teams.get("platform") if hasattr(ctx, "teams") else None
    if platform is None:
        return None
    return (
        EscalationPolicy.objects.filter(team=platform, is_team_default=True).first()
        or EscalationPolicy.objects.filter(team=platform).first()
    )


def _checkout_incident(ctx) -> Incident:
    """An open checkout incident (the incidents demo may have one; else a quiet one)."""
    checkout = ctx.services["checkout"]
    found = Incident.objects.open().real().filter(services=checkout).order_by("detected_at").first()
    if found is not None:
        return found
    ravi = ctx.users["ravi"]
    with incident_services.quiet():
        incident = incident_services.declare_incident(
            title="Card payments failing at checkout",
            severity=2,
            services=[checkout],
            actor=ravi,
            commander=ravi,
            detected_at=timezone.now() - timedelta(minutes=40),
            summary="Card authorisations time out for some customers; the billing API is slow.",
        )
        incident_services.set_customer_message(
            incident=incident,
            actor=ravi,
            text="Some card payments fail at checkout. We are working on a fix; please retry in a few minutes.",
        )
    return incident


def seed(ctx) -> str:
    sam = ctx.users["sam"]
    config = SupportSettings.load()
    if config.triage_policy_id is None:
        policy = _triage_policy(ctx)
        if policy is not None:
            SupportSettings.objects.filter(pk=config.pk).update(triage_policy=policy)
            config.triage_policy = policy
    now = timezone.now()
    created = 0
    for customer, contact, slug, impact, summary, hours, acker, reply in HISTORY:
        if Escalation.objects.filter(reporter=sam, customer=customer).exists():
            continue
        service = ctx.services[slug] if slug else None
        at = now - timedelta(hours=hours)
        escalation = Escalation(
            reporter=sam, customer=customer, contact=contact, service=service, impact=impact, summary=summary,
            created_at=at, ack_due_at=config.ack_due_at(impact, at), policy=services.route(service, config),
            dispatched_at=at,  # past filings: routed back then (the auditor must not page them now)
        )  # fmt: skip
        if acker:
            escalation.status = Escalation.Status.ACKNOWLEDGED
            escalation.acknowledged_by = ctx.users[acker]
            escalation.acknowledged_at = at + timedelta(minutes=9)
        if reply:
            escalation.status = Escalation.Status.RESOLVED
            escalation.resolved_by = ctx.users[acker]
            escalation.resolved_at = at + timedelta(hours=3)
            escalation.reply = reply
        escalation.save()
        created += 1
    if not Escalation.objects.filter(reporter=sam, customer="acme-corp").exists():
        incident = _checkout_incident(ctx)
        services.attach_to_incident(
            reporter=sam,
            incident=incident,
            customer="acme-corp",
            contact="billing@acme.example",
            summary="Every card payment fails with 'payment declined' at checkout.",
            impact=Impact.BLOCKED,
            customers_reporting=3,
            links=["https://support.example.com/tickets/48190"],
        )
        created += 1
    ctx.escalations = list(Escalation.objects.filter(reporter=sam))
    return f"{created} escalations for sam ({len(ctx.escalations)} in total)"
