"""Demo status page: every tier-1 service public, in customer-facing groups."""

from status.models import Component

GROUPS = {
    "platform": "Platform",
    "payments": "Billing",
    "integrations": "Integrations",
    "edge": "Domains & DNS",
    "web": "Dashboard",
}


def seed(ctx) -> str:
    from status import services

    manager = ctx.users["maya"]
    created = 0
    for order, (_slug, service) in enumerate(sorted(ctx.services.items()), start=1):
        if service.tier != "tier-1":
            continue
        existing = Component.objects.filter(service=service).first()
        if existing is None:
            created += 1
        services.save_component(
            actor=manager,
            service=service,
            name=existing.name if existing else service.name,
            group=GROUPS.get(service.owner_team.slug if service.owner_team else "", "Other"),
            order=order,
            description=(existing.description if existing else "") or service.description[:300],
        )
    open_ids = [i.pk for i in getattr(ctx, "open_incidents", [])]
    services.ensure_public_incidents(incident_ids=open_ids)
    ctx.components = {c.service.slug: c for c in Component.objects.select_related("service")}
    return f"{len(ctx.components)} status components ({created} new)"
