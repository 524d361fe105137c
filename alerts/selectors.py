"""Reads: bounded, indexed."""

from __future__ import annotations

from django.db.models import QuerySet

from alerts.models import Alert, AlertGroup, Integration

PANEL_LIMIT = 20


def groups_for_incident(incident, *, limit: int = PANEL_LIMIT) -> list[AlertGroup]:
    """The alert groups attached to an incident (the incident room's panel), newest first."""
    return list(
        AlertGroup.objects.filter(incident=incident)
        .select_related("integration")
        .order_by("-created_at")[:limit]
    )


def groups() -> QuerySet[AlertGroup]:
    return AlertGroup.objects.select_related("integration", "service", "page", "incident")


def alerts() -> QuerySet[Alert]:
    return Alert.objects.select_related("integration", "group")


def services_with_integrations(service_ids) -> set[int]:
    """Services that have an active integration (readiness: alert coverage)."""
    return set(
        Integration.objects.filter(service_id__in=list(service_ids), revoked_at__isnull=True).values_list(
            "service_id", flat=True
        )
    )
