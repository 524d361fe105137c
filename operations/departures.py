"""Duties (responsibilities) a person who left still owns or backs up
(identity.signals.collect_references)."""

from __future__ import annotations

from django.db.models import Q

from identity.services import Reference
from operations.models import Responsibility


def references(sender, *, user, at, **kwargs) -> list[Reference]:
    rows = (
        Responsibility.objects.filter(Q(owner=user) | Q(backup=user), active=True)
        .select_related("team")
        .order_by("pk")
    )
    return [
        Reference(
            kind="duty owner" if row.owner_id == user.pk else "duty backup",
            label=row.title,
            url=row.get_absolute_url(),
            team_id=row.team_id,
            team=row.team.name,
        )
        for row in rows
    ]
