"""SLA reminder rule for on-call coverage (run by the reminders sweep).

``oncall.coverage_gap``: a schedule with nobody on call at some time in the next 7 days ->
the schedule's team manager, once a day until the gap is filled. The due point is the start
of the current day (UTC), so a sweep that was down for hours still sends one reminder.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.urls import reverse

from oncall import selectors
from oncall.models import Schedule
from opsportal.links import absolute_url
from reminders.registry import EffectiveConfig, Reminder, Rule, latest_due_point

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
LOOKAHEAD_DAYS = 7


def _fmt(start: datetime, end: datetime) -> str:
    return f"{start:%a %Y-%m-%d %H:%M} - {end:%a %Y-%m-%d %H:%M} UTC"


class CoverageGapRule(Rule):
    def due(self, *, now: datetime, config: EffectiveConfig):
        gaps = selectors.coverage_gaps(days=LOOKAHEAD_DAYS, at=now)
        if not gaps:
            return
        point = latest_due_point(EPOCH, config.interval or timedelta(days=1), now)
        for schedule in Schedule.objects.filter(pk__in=gaps).select_related("team__manager"):
            manager = schedule.team.manager
            if manager is None or not manager.is_active:
                continue
            holes = gaps[schedule.pk]
            url = absolute_url(reverse("admin:oncall_schedule_change", args=[schedule.pk]))
            yield Reminder(
                object_key=f"oncall.schedule:{schedule.pk}",
                due_point=point,
                recipients=[manager],
                template="reminders/generic",
                context={
                    "title": f"Nobody on call in {schedule.name} ({len(holes)} gap(s) in the next {LOOKAHEAD_DAYS} days)",
                    "url": url,
                    "fields": [["Gap", _fmt(a, b)] for a, b in holes[:10]],
                    "actions": [["Fix the schedule", url]],
                },
                related=schedule,
            )


RULES = [
    CoverageGapRule(
        key="oncall.coverage_gap",
        title="On-call gap in the next 7 days",
        description="Tells the schedule's team manager, daily until the gap is filled.",
        default_interval=timedelta(days=1),
    ),
]
