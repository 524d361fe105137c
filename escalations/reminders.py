"""Reminder rule: an escalation still new past its acknowledgement SLA.

Once per escalation (its due point is the SLA deadline): the page moves to the next level of
its policy right away (or, for a question that did not page, on-call is paged now), and the
owning team's manager is told. Paging rule: quiet hours do not hold it back.
"""

from __future__ import annotations

from functools import partial

from escalations import services
from escalations.models import Escalation, SupportSettings
from opsportal.links import absolute_url
from reminders.registry import Reminder, Rule

# At most this many overdue escalations per sweep (the next sweep takes the rest).
BATCH = 500


class UnacknowledgedEscalation(Rule):
    def due(self, *, now, config):
        overdue = (
            Escalation.objects.unacknowledged()
            .filter(ack_due_at__lte=now)  # served by the partial index escalations_new_due
            .select_related("service__owner_team__manager", "policy__team__manager", "reporter")
            .order_by("ack_due_at")[:BATCH]
        )
        settings_row = SupportSettings.load()
        for escalation in overdue:
            team = (
                escalation.service.owner_team
                if escalation.service
                else (escalation.policy.team if escalation.policy else None)
            )
            manager = team.manager if team is not None else None
            paged = escalation.page_id is not None
            url = absolute_url(escalation.get_absolute_url())
            yield Reminder(
                object_key=f"escalations.escalation:{escalation.pk}",
                due_point=escalation.ack_due_at,
                recipients=[manager] if manager is not None and manager.is_active else [],
                template="escalations/sla_breached",
                context={
                    "title": f"{escalation.reference} not acknowledged: {escalation.customer} "
                    f"({escalation.impact_short.lower()}, {escalation.service or 'service unknown'})",
                    "url": url,
                    "sla": settings_row.sla_display(escalation.impact),
                    "action": "Its page moves to the next escalation level now."
                    if paged
                    else "On-call is being paged now.",
                    "fields": [
                        ["Customer", escalation.customer],
                        ["Filed by", str(escalation.reporter)],
                        ["Was due", f"{escalation.ack_due_at:%Y-%m-%d %H:%M} UTC"],
                    ],
                    "actions": [["Triage", url]],
                },
                kind="reminder",
                related=escalation,
                action=partial(services.escalate_overdue, escalation_id=escalation.pk),
            )


RULES = [
    UnacknowledgedEscalation(
        key="escalations.unacknowledged",
        title="Support escalation not acknowledged within its SLA",
        description="Escalates the page (or pages on-call) once and tells the owning team's manager.",
        paging=True,
    )
]
