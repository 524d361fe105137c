"""Demo catalog: five teams owning the services of an integrations/billing platform."""

from catalog import services
from catalog.models import Service, ServiceLink, Team

TEAMS = [
    # slug, name, manager, members, channel, description
    ("platform", "Platform", "maya", ["ravi", "alice", "bob"], "#team-platform",
     "Deployment infrastructure on GCP, databases, queues and the API gateway."),
    ("payments", "Payments", "omar", ["carlos", "dana", "jun"], "#team-payments",
     "Billing, Stripe integration and invoicing."),
    ("integrations", "Integrations", "lena", ["erik", "ivan", "kofi"], "#team-integrations",
     "Fivetran hooks, webhook delivery and connector sync."),
    ("edge", "Edge & Domains", "noah", ["george", "hana", "fatima"], "#team-edge",
     "Custom domains, TLS certificates and DNS."),
    ("web", "Web", "grace", ["jun", "alice", "fatima"], "#team-web",
     "The customer-facing web app, checkout and search."),
]  # fmt: skip

SERVICES = [
    # slug, name, team, tier, description, depends on
    ("api-gateway", "API gateway", "platform", "tier-1", "Routes every public API call; rate limits and auth.", ["redis-cache"]),
    ("deploy-orchestrator", "Deploy orchestrator", "platform", "tier-1", "Runs customer deployments on GCP.", ["postgres-primary", "job-queue"]),
    ("postgres-primary", "PostgreSQL primary", "platform", "tier-1", "Primary OLTP database cluster.", []),
    ("redis-cache", "Redis cache", "platform", "tier-2", "Shared cache and rate-limit store.", []),
    ("job-queue", "Job queue", "platform", "tier-2", "Background job broker and workers.", ["redis-cache"]),
    ("billing-api", "Billing API", "payments", "tier-1", "Plans, subscriptions and charges.", ["postgres-primary", "api-gateway"]),
    ("billing-events", "Billing event processor", "payments", "tier-1", "Consumes billing events and records charges.", ["job-queue", "postgres-primary"]),
    ("stripe-webhooks", "Stripe webhooks", "payments", "tier-1", "Receives and verifies Stripe webhook events.", ["billing-events"]),
    ("invoicing", "Invoicing", "payments", "tier-2", "Monthly invoices and PDF rendering.", ["billing-api"]),
    ("webhook-delivery", "Webhook delivery", "integrations", "tier-1", "Delivers customer webhooks with retries.", ["job-queue"]),
    ("fivetran-hooks", "Fivetran hooks", "integrations", "tier-2", "Fivetran integration callbacks.", ["webhook-delivery", "api-gateway"]),
    ("connector-sync", "Connector sync", "integrations", "tier-2", "Schedules and runs connector syncs.", ["job-queue", "postgres-primary"]),
    ("dns-resolver", "DNS", "edge", "tier-1", "Authoritative DNS for customer domains.", []),
    ("tls-manager", "TLS certificate manager", "edge", "tier-1", "Issues and renews custom-domain certificates.", ["dns-resolver"]),
    ("custom-domains", "Custom domains", "edge", "tier-1", "Customer custom-domain routing.", ["dns-resolver", "tls-manager"]),
    ("web-app", "Web app", "web", "tier-1", "The customer dashboard.", ["api-gateway"]),
    ("checkout", "Checkout", "web", "tier-1", "Plan purchase and upgrade flow.", ["billing-api", "web-app"]),
    ("search", "Search", "web", "tier-3", "Docs and dashboard search.", ["postgres-primary"]),
]  # fmt: skip


def seed(ctx) -> str:
    users = ctx.users
    ctx.teams = {}
    for slug, name, manager, members, channel, description in TEAMS:
        team = Team.objects.filter(slug=slug).first()
        ctx.teams[slug] = services.save_team(
            team=team,
            name=name,
            slug=slug,
            description=description,
            manager=users[manager],
            members=[users[m] for m in members] + [users[manager]],
            chat_channel=channel,
            email=f"{slug}@example.com",
        )
    ctx.services = {}
    for slug, name, team, tier, description, _deps in SERVICES:
        ctx.services[slug] = services.save_service(
            service=Service.objects.filter(slug=slug).first(),
            name=name,
            slug=slug,
            owner_team=ctx.teams[team],
            tier=tier,
            description=description,
        )
    for slug, *_rest, deps in SERVICES:
        services.set_dependencies(service=ctx.services[slug], depends_on=[ctx.services[d] for d in deps])
    for slug, service in ctx.services.items():
        ServiceLink.objects.update_or_create(
            service=service,
            url=f"https://grafana.example.com/d/{slug}",
            defaults={"kind": ServiceLink.Kind.DASHBOARD, "title": f"{service.name} overview"},
        )
        ServiceLink.objects.update_or_create(
            service=service,
            url=f"https://github.com/example/{slug}",
            defaults={"kind": ServiceLink.Kind.REPOSITORY, "title": "Repository"},
        )
    return f"{len(TEAMS)} teams, {len(SERVICES)} services"
