"""Reads over the catalog: ownership and the dependency graph (blast radius)."""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable

from catalog.models import Service, ServiceDependency


def dependency_edges() -> dict[int, set[int]]:
    """service id -> ids it depends on. One query; the graph is small (hundreds of edges)."""
    edges: dict[int, set[int]] = defaultdict(set)
    for service_id, depends_on_id in ServiceDependency.objects.values_list("service_id", "depends_on_id"):
        edges[service_id].add(depends_on_id)
    return edges


def _reachable(start: Iterable[int], graph: dict[int, set[int]]) -> set[int]:
    seen: set[int] = set()
    queue = deque(start)
    while queue:
        node = queue.popleft()
        for nxt in graph.get(node, ()):
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return seen


def transitive_dependencies(service_ids: Iterable[int]) -> set[int]:
    """Everything the given services need, directly or indirectly."""
    return _reachable(service_ids, dependency_edges()) - set(service_ids)


def transitive_dependents(service_ids: Iterable[int]) -> set[int]:
    """Blast radius: every service that breaks, directly or indirectly, when these do."""
    reverse: dict[int, set[int]] = defaultdict(set)
    for service_id, needs in dependency_edges().items():
        for dep in needs:
            reverse[dep].add(service_id)
    ids = set(service_ids)
    return _reachable(ids, reverse) - ids


def blast_radius(service: Service):
    return Service.objects.filter(pk__in=transitive_dependents([service.pk])).select_related("owner_team")
