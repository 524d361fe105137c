"""Open action items a person who left still owns (identity.signals.collect_references)."""

from __future__ import annotations

from identity.services import Reference
from postmortems.models import ActionItem


def references(sender, *, user, at, **kwargs) -> list[Reference]:
    rows = (
        ActionItem.objects.filter(owner=user, status__in=ActionItem.OPEN_STATUSES)
        .select_related("team", "postmortem")
        .order_by("due_date", "pk")
    )
    return [
        Reference(
            kind="action item",
            label=f"{row.title} (due {row.due_date:%Y-%m-%d})",
            url=row.get_absolute_url(),
            team_id=row.team_id,
            team=row.team.name if row.team else "",
        )
        for row in rows
    ]
