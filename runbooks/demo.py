"""Demo runbooks for the demo services, in every freshness state (fresh, never tested,
review due, stale); a few services are left without a runbook so the flag shows."""

from datetime import timedelta

from django.utils import timezone

from runbooks import services
from runbooks.models import Runbook

TLS = {
    "slug": "tls-certificate-renewal",
    "title": "TLS certificate renewal for a custom domain",
    "team": "edge",
    "services": ["tls-manager", "custom-domains"],
    "summary": "A customer's custom domain serves an expired or soon-to-expire certificate.",
    "scenarios": "TLS probe: certificate expires in less than 14 days\n"
    "Customer reports 'Your connection is not private' on their custom domain\n"
    "ACME order stuck in 'pending' or 'invalid'",
    "diagnostic_steps": """1. Check what the domain serves:
   ```sh
   echo | openssl s_client -connect $DOMAIN:443 -servername $DOMAIN 2>/dev/null | openssl x509 -noout -dates -issuer
   ```
2. Open the domain in the *TLS certificate manager* dashboard and read the last ACME order status.
3. Check the customer's DNS: the CNAME must point to `edge.example.net` (`dig +short CNAME $DOMAIN`).""",
    "mitigation": """1. If DNS is wrong, tell the customer (support has a macro) - renewal cannot succeed until it is fixed.
2. If DNS is right, retry the order: `tlsctl renew $DOMAIN --force`.
3. If Let's Encrypt rate-limits us, issue from the fallback CA: `tlsctl renew $DOMAIN --ca zerossl`.
4. Confirm with the `openssl` command above that the new expiry date is served on every edge node.""",
    "rollback": "Re-deploy the previous certificate bundle: `tlsctl rollback $DOMAIN` (kept for 30 days).",
    "escalation_notes": "Edge on-call first; if the ACME account itself is blocked, page the Edge manager.",
    "body": "Certificates are issued by Let's Encrypt through ACME HTTP-01 on the edge nodes and "
    "renewed 30 days before expiry. See the [edge architecture doc](https://docs.example.com/edge/tls).",
    "reviewed_days_ago": 100,
    "tested_days_ago": 130,
    "evidence": ("https://docs.example.com/gamedays/2026-tls", "Expired a staging certificate on purpose."),
}

RUNBOOKS = [
    TLS,
    {
        "slug": "billing-webhook-backlog",
        "title": "Billing webhook backlog",
        "team": "payments",
        "services": ["stripe-webhooks", "billing-events"],
        "summary": "Stripe events pile up faster than the billing event processor consumes them.",
        "scenarios": "Queue depth of billing-events above 10,000 for 10 minutes\n"
        "Stripe dashboard shows webhook delivery failures\nCustomers charged but plans not upgraded",
        "diagnostic_steps": "1. Check the *Billing event processor* dashboard: consumer lag and error rate.\n"
        "2. Look for a poison message: `billingctl events --failed --since 1h`.\n"
        "3. Check PostgreSQL primary health (locks, replication lag).",
        "mitigation": "1. Scale the consumers: `kubectl scale deploy/billing-events --replicas=12`.\n"
        "2. Park poison messages: `billingctl events park <id>`.\n"
        "3. Stripe retries for 3 days: nothing is lost while we recover.",
        "rollback": "Scale back to 4 replicas once lag is under 1 minute.",
        "escalation_notes": "Payments on-call; if charges are affected, the Payments manager informs finance.",
        "body": "Stripe signs every webhook; the receiver only verifies and enqueues.",
        "reviewed_days_ago": 10,
        "tested_days_ago": 20,
        "evidence": ("", "Game day: paused the consumers for 15 minutes and drained 40k events."),
    },
    {
        "slug": "deployment-rollback",
        "title": "Deployment rollback",
        "team": "platform",
        "services": ["deploy-orchestrator"],
        "summary": "A release breaks production: get back to the last good version.",
        "scenarios": "Error rate up right after a deploy\nHealth checks failing on new pods",
        "diagnostic_steps": "1. Compare the error rate with the deploy marker on the dashboard.\n"
        "2. `deployctl history $SERVICE` shows the last good release.",
        "mitigation": "1. `deployctl rollback $SERVICE --to <release>`.\n2. Freeze deploys in the release channel.",
        "rollback": "Roll forward with a fix once the cause is understood; never re-deploy the bad release.",
        "escalation_notes": "Platform on-call; the release lead decides on the freeze.",
        "body": "Rollbacks are always safe for stateless services; check migrations first for the others.",
        "reviewed_days_ago": 30,
        "tested_days_ago": 30,
        "evidence": (
            "https://ops.example.com/incidents/INC-1042",
            "Used in a real incident; 4 minutes end to end.",
        ),
    },
    {
        "slug": "dns-failover",
        "title": "DNS failover to the secondary provider",
        "team": "edge",
        "services": ["dns-resolver"],
        "summary": "The primary DNS provider is down or answers SERVFAIL.",
        "scenarios": "DNS probe fails from several regions\nSERVFAIL for customer domains",
        "diagnostic_steps": "1. `dig @ns1.example.net example.com` from two regions.\n2. Check the provider status page.",
        "mitigation": "1. Switch NS delegation to the secondary provider (zones are synced hourly).",
        "rollback": "Switch NS back once the primary is healthy for an hour.",
        "escalation_notes": "Edge manager approves a delegation change.",
        "body": "",
        "reviewed_days_ago": 200,
        "tested_days_ago": None,
        "evidence": None,
    },
    {
        "slug": "database-failover",
        "title": "PostgreSQL primary failover",
        "team": "platform",
        "services": ["postgres-primary"],
        "summary": "The primary database is unreachable or unhealthy: promote the replica.",
        "scenarios": "Primary unreachable\nReplication lag above 5 minutes\nDisk full on the primary",
        "diagnostic_steps": "1. `patronictl list` shows leader and lag.\n2. Check disk and connections.",
        "mitigation": "1. `patronictl failover --candidate <replica>`.\n2. Check that PgBouncer follows the new leader.",
        "rollback": "Rebuild the old primary as a replica; do not fail back during business hours.",
        "escalation_notes": "Platform manager; the database vendor's support contract is in the vault.",
        "body": "",
        "reviewed_days_ago": 15,
        "tested_days_ago": None,
        "evidence": None,
    },
    {
        "slug": "webhook-delivery-stuck",
        "title": "Customer webhook deliveries stuck in retry",
        "team": "integrations",
        "services": ["webhook-delivery"],
        "summary": "Outgoing customer webhooks are not delivered or retry forever.",
        "scenarios": "Retry queue grows for 30 minutes\nOne customer endpoint times out and blocks a worker pool",
        "diagnostic_steps": "1. `hookctl top --by endpoint` finds the slow endpoints.",
        "mitigation": "1. Quarantine the endpoint: `hookctl quarantine <endpoint>` (retries continue slowly).",
        "rollback": "`hookctl release <endpoint>`.",
        "escalation_notes": "Integrations on-call; support tells the customer.",
        "body": "",
        "reviewed_days_ago": 120,
        "tested_days_ago": 150,
        "evidence": ("", "Drill on staging."),
    },
    {
        "slug": "redis-cache-eviction-storm",
        "title": "Redis cache eviction storm",
        "team": "platform",
        "services": ["redis-cache", "api-gateway"],
        "summary": "Cache memory is full; evictions spike and the gateway's rate limiter misbehaves.",
        "scenarios": "evicted_keys above 1,000/s\nAPI gateway 429s for customers under their limit",
        "diagnostic_steps": "1. `redis-cli info memory` and `info stats`.\n2. Find big keys: `redis-cli --bigkeys`.",
        "mitigation": "1. Raise maxmemory by 25% (headroom is provisioned).\n2. Flush the offending key prefix.",
        "rollback": "Restore maxmemory after the cause is fixed.",
        "escalation_notes": "Platform on-call.",
        "body": "",
        "reviewed_days_ago": 5,
        "tested_days_ago": 40,
        "evidence": ("https://docs.example.com/gamedays/2026-redis", "Filled the staging cache on purpose."),
    },
]


def seed(ctx) -> str:
    now = timezone.now()
    author = ctx.users["maya"]
    tester = ctx.users["ravi"]
    ctx.runbooks = {}
    for spec in RUNBOOKS:
        runbook = services.save_runbook(
            actor=author,
            runbook=Runbook.objects.filter(slug=spec["slug"]).first(),
            services=[ctx.services[s] for s in spec["services"]],
            title=spec["title"],
            slug=spec["slug"],
            owner_team=ctx.teams[spec["team"]],
            summary=spec["summary"],
            scenarios=spec["scenarios"],
            diagnostic_steps=spec["diagnostic_steps"],
            mitigation=spec["mitigation"],
            rollback=spec["rollback"],
            escalation_notes=spec["escalation_notes"],
            body=spec["body"],
        )
        if spec["tested_days_ago"] is not None:
            url, note = spec["evidence"]
            tested_at = now - timedelta(days=spec["tested_days_ago"])
            if runbook.last_tested_at is None or runbook.last_tested_at <= tested_at:
                runbook = services.record_test(
                    runbook=runbook, actor=tester, evidence_url=url, evidence_note=note, tested_at=tested_at
                )
        reviewed_at = now - timedelta(days=spec["reviewed_days_ago"])
        if runbook.last_reviewed_at is None or runbook.last_reviewed_at <= reviewed_at:
            runbook = services.mark_reviewed(runbook=runbook, actor=author, at=reviewed_at)
        ctx.runbooks[spec["slug"]] = runbook
    states = sorted({rb.freshness.label for rb in ctx.runbooks.values()})
    return f"{len(ctx.runbooks)} runbooks ({', '.join(states)})"
