"""Demo status page: every tier-1 service public, in customer-facing groups."""

from status.models import Component

GROUPS = {
    "platform": "Platform",
    "payments": "Billing",
    "integrations": "Integrations",
    "edge": "Domains & DNS",
    "web": "Dashboard",
}

# What customers read instead of the internal title (the rest publish under their own title).
PUBLIC_TITLES = {"webhook-delays": "Delayed webhook deliveries"}


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
    # Nothing is public until a person publishes it: the open SEV-2 and the past incidents
    # that told customers something get a public title; the open SEV-3 (search latency) stays
    # internal, so the demo shows both sides.
    for key, incident in sorted(getattr(ctx, "incidents", {}).items()):
        if key == "search-latency" or incident.drill:
            continue
        told = incident.customer_message or incident.updates.filter(audience="external").exists()
        record = getattr(incident, "public", None)
        if not told or (record is not None and record.public_title):
            continue
        services.set_incident_public(
            incident=incident, actor=manager, public=True, public_title=PUBLIC_TITLES.get(key, incident.title)
        )
    ctx.components = {c.service.slug: c for c in Component.objects.select_related("service")}
    return f"{len(ctx.components)} status components ({created} new)"
