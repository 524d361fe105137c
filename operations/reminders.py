"""Reminder rules for duties (run by the reminders sweep, exactly once per due point and stage).

- ``operations.duty_due_soon``: when a duty enters its due-soon window, its owner hears once.
- ``operations.duty_overdue``: at the latest missed due point the owner (stage 1), after a
  further interval the backup (stage 2), after another the team's manager (stage 3). The
  interval is the rule's "escalate after" (admin-editable, default 1 day), shortened to a
  third of the cycle so a daily duty escalates before its next due point. Each new missed
  due point starts again at the owner; after a gap in the sweeps only the latest due point
  is chased (never one message per missed cycle).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Q

from operations import tokens
from operations.models import Responsibility
from opsportal.links import absolute_url
from reminders.registry import Reminder, Rule

OVERDUE_ESCALATE_AFTER = timedelta(days=1)


def _local(dt: datetime, tz: str) -> str:
    return f"{dt.astimezone(ZoneInfo(tz)):%a %d %b %Y %H:%M} ({tz})"


def _active_person(user):
    return user if user is not None and user.is_active else None


def _context(duty: Responsibility, due_at: datetime, *, title: str, missed: int = 0) -> dict:
    check_in = tokens.check_in_url(duty.pk, due_at)
    url = absolute_url(duty.get_absolute_url())
    return {
        "title": title,
        "url": url,
        "duty_title": duty.title,
        "team": duty.team.name,
        "due_local": _local(due_at, duty.time_zone),
        "definition_of_done": duty.definition_of_done,
        "owner": str(duty.owner) if duty.owner else "nobody",
        "backup": str(duty.backup) if duty.backup else "nobody",
        "missed_cycles": missed,
        "check_in_url": check_in,
        "fields": [
            ["Team", duty.team.name],
            ["Area", duty.area_label],
            ["Cadence", duty.cadence_display],
            ["Owner", str(duty.owner) if duty.owner else "nobody"],
            ["Backup", str(duty.backup) if duty.backup else "nobody"],
        ],
        "actions": [["Mark done", check_in], ["Open duty", url]],
    }


def _duties(filter_q: Q):
    return (
        Responsibility.objects.active()
        .filter(filter_q)
        .select_related("team", "team__manager", "owner", "backup")
    )


class DutyDueSoon(Rule):
    def due(self, *, now, config):
        # served by the partial index on due_soon_at (active duties)
        for duty in _duties(Q(due_soon_at__lte=now, next_due_at__gte=now)):
            owner = _active_person(duty.owner)
            if owner is None:
                continue  # unowned duties are chased by the overdue rule and listed as gaps
            yield Reminder(
                object_key=f"operations.responsibility:{duty.pk}",
                due_point=duty.next_due_at,
                recipients=[owner],
                template="operations/due_soon",
                context=_context(duty, duty.next_due_at, title=f"Due soon: {duty.title} ({duty.team.name})"),
                related=duty,
            )


class DutyOverdue(Rule):
    def due(self, *, now, config):
        base = config.escalate_after or OVERDUE_ESCALATE_AFTER
        # served by the partial index on next_due_at (active duties)
        for duty in _duties(Q(next_due_at__lt=now)):
            sched = duty.schedule()
            latest = max(sched.latest_at_or_before(now) or duty.next_due_at, duty.next_due_at)
            step = min(base, (sched.next_after(latest) - latest) / 3)
            missed = sched.count(duty.next_due_at, now + timedelta(microseconds=1))
            owner = _active_person(duty.owner)
            backup = _active_person(duty.backup)
            manager = _active_person(duty.team.manager)
            stages = [
                (1, latest, owner or manager),
                (2, latest + step, backup),
                (3, latest + 2 * step, manager if owner is not None else None),
            ]
            for stage, at, person in stages:
                if person is None or now < at:
                    continue
                yield Reminder(
                    object_key=f"operations.responsibility:{duty.pk}",
                    due_point=latest,
                    recipients=[person],
                    template="operations/overdue",
                    context={
                        **_context(
                            duty, latest, title=f"Overdue: {duty.title} ({duty.team.name})", missed=missed
                        ),
                        "stage": stage,
                    },
                    stage=stage,
                    related=duty,
                )


RULES = [
    DutyDueSoon(
        key="operations.duty_due_soon",
        title="Duty due soon",
        description="The owner of a recurring duty hears once when it enters its due-soon window.",
    ),
    DutyOverdue(
        key="operations.duty_overdue",
        title="Duty overdue",
        description=(
            "A duty past its due point: owner first, the backup after 'escalate after' (at most a third "
            "of the cycle), the team's manager after twice that. Once per due point and stage."
        ),
        default_escalate_after=OVERDUE_ESCALATE_AFTER,
    ),
]
