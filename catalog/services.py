"""Writes to the catalog. Admin and API both come through here."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.db.models import ProtectedError

from catalog import selectors
from catalog.models import Service, ServiceDependency, ServiceLink, Team
from opsportal.db import delete_or_conflict, in_use
from opsportal.errors import InvalidInput


def check_dependencies(service: Service | None, depends_on_ids: Iterable[int]) -> None:
    """Refuse self-dependencies and cycles (A needs B needs A): a cycle makes blast radius
    and dependency-aware alert suppression meaningless."""
    ids = set(depends_on_ids)
    if service is None or service.pk is None:
        return
    if service.pk in ids:
        raise InvalidInput("A service cannot depend on itself.", field="dependencies")
    graph = selectors.dependency_edges()
    graph[service.pk] = ids
    for dep in ids:
        if service.pk in selectors._reachable([dep], graph):
            name = Service.objects.filter(pk=dep).values_list("name", flat=True).first()
            raise InvalidInput(
                f"{name} already depends on {service.name} (directly or indirectly): that would be a cycle.",
                field="dependencies",
            )


@transaction.atomic
def save_service(
    *, service: Service | None = None, dependencies: Iterable[Service] | None = None, **fields
) -> Service:
    service = service or Service()
    for name, value in fields.items():
        setattr(service, name, value)
    service.full_clean(exclude=["dependencies"])
    service.save()
    if dependencies is not None:
        set_dependencies(service=service, depends_on=dependencies)
    return service


@transaction.atomic
def set_dependencies(*, service: Service, depends_on: Iterable[Service]) -> None:
    wanted = {s.pk for s in depends_on}
    check_dependencies(service, wanted)
    current = set(service.dependency_links.values_list("depends_on_id", flat=True))
    for link in service.dependency_links.filter(depends_on_id__in=current - wanted):
        link.delete()  # one by one so history records each removal
    for dep_id in wanted - current:
        ServiceDependency.objects.create(service=service, depends_on_id=dep_id)


@transaction.atomic
def save_team(*, team: Team | None = None, members: Iterable | None = None, **fields) -> Team:
    team = team or Team()
    for name, value in fields.items():
        setattr(team, name, value)
    team.full_clean(exclude=["members"])
    team.save()
    if members is not None:
        team.members.set(members)
    return team


@transaction.atomic
def delete_team(*, team: Team, actor=None) -> None:
    """Delete a team that owns nothing any more; ``InUse`` (409) names its services,
    schedules, incidents... while they still point at it."""
    team = Team.objects.select_for_update().get(pk=team.pk)
    delete_or_conflict(team, label=f"Team {team.name}")


@transaction.atomic
def delete_service(*, service: Service, actor=None) -> None:
    """Delete a service nothing refers to; ``InUse`` (409) names the incidents, probes...
    that still do. Its dependency edges and links go with it."""
    service = Service.objects.select_for_update().get(pk=service.pk)
    label = f"Service {service.name}"
    # Incidents and releases list their services many-to-many: deleting the service would
    # silently drop it from those records, so they protect it like a foreign key does.
    records = [*service.incidents.all(), *service.releases.all()]
    if records:
        raise in_use(label, ProtectedError("records name this service", set(records)))
    delete_or_conflict(service, label=label)


@transaction.atomic
def save_link(*, link: ServiceLink | None = None, **fields) -> ServiceLink:
    link = link or ServiceLink()
    for name, value in fields.items():
        setattr(link, name, value)
    link.full_clean()
    link.save()
    return link


def delete_link(*, link: ServiceLink, actor=None) -> None:
    link.delete()


@transaction.atomic
def set_links(*, service: Service, rows: Iterable[dict], removed: Iterable[ServiceLink] = ()) -> None:
    """Replace the links edited together on a service's page: ``rows`` are the kept links'
    fields (``id`` None for a new one), ``removed`` the links to delete."""
    for link in removed:
        if link.service_id == service.pk:
            link.delete()
    for row in rows:
        fields = {k: v for k, v in row.items() if k not in ("id", "service")}
        existing = service.links.filter(pk=row["id"]).first() if row.get("id") else None
        save_link(link=existing, service=service, **fields)
