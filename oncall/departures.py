"""What in on-call still names a person who left (identity.signals.collect_references): the
schedules they rotate in or hold overrides on - with the gaps their leaving opens, from the
same gap detection the schedule page shows - and the escalation levels that page them."""

from __future__ import annotations

from datetime import timedelta

from django.urls import reverse

from identity.services import Reference
from oncall import selectors
from oncall.models import EscalationLevel, LayerMember, Override, Schedule

# How far ahead the departure report looks for gaps (the schedule page warns as far).
GAP_HORIZON = timedelta(days=14)


def references(sender, *, user, at, **kwargs) -> list[Reference]:
    schedule_ids = set(LayerMember.objects.filter(user=user).values_list("layer__schedule_id", flat=True))
    schedule_ids |= set(Override.objects.filter(user=user, end__gt=at).values_list("schedule_id", flat=True))
    out = []
    for schedule in Schedule.objects.filter(pk__in=schedule_ids).select_related("team").order_by("pk"):
        holes = selectors.gaps(schedule, at, at + GAP_HORIZON)
        out.append(
            Reference(
                kind="schedule",
                label=f"{schedule.name}: {len(holes)} gap(s) in the next {GAP_HORIZON.days} days",
                url=reverse("admin:oncall_schedule_change", args=[schedule.pk]),
                team_id=schedule.team_id,
                team=schedule.team.name,
                gaps=[[a.isoformat(), b.isoformat()] for a, b in holes[:20]],
            )
        )
    for level in (
        EscalationLevel.objects.filter(users=user).select_related("policy__team").order_by("policy_id", "pk")
    ):
        out.append(
            Reference(
                kind="escalation level",
                label=f"{level.policy.name}, level {level.position}",
                url=reverse("admin:oncall_escalationpolicy_change", args=[level.policy_id]),
                team_id=level.policy.team_id,
                team=level.policy.team.name,
            )
        )
    return out
