"""SLA reminder rules for incidents (run by the reminders sweep, exactly once per due point).

- ``incidents.ack_overdue``: an open incident nobody acknowledged within its severity's
  acknowledgement SLA -> escalate via paging (opens a page if none is open for it, even for
  severities that do not page on declaration) and notify the owning team's manager.
- ``incidents.update_overdue``: an open incident whose next status update (severity cadence)
  is overdue -> remind the commander; if still overdue after a further interval (default:
  one cadence), the team's manager.

Both select only due incidents in the database: one query per severity (the SLA and the
cadence are per severity), filtered on the partial index ``incidents_open_by_severity``
(open incidents by severity and detection time), so a sweep's query count is constant and its
cost follows the number of due incidents, never the size of the archive.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import F
from django.db.models.functions import Coalesce

from incidents.models import Incident, Severity
from opsportal.links import absolute_url
from opsportal.timeutil import human_delta
from reminders.registry import EffectiveConfig, Reminder, Rule


def _open_incidents():
    return Incident.objects.open().select_related(
        "severity", "owning_team__manager", "commander", "acknowledged_by", "primary_service"
    )


def _unacknowledged_past_sla(now: datetime):
    """Per severity: unacknowledged open incidents detected before now - SLA. "Next business
    day" is at least a calendar day away, so the query bounds it and Python checks the rest."""
    for severity in Severity.objects.all():
        if severity.ack_sla_mode == Severity.AckSla.NEXT_BUSINESS_DAY:
            bound = now - timedelta(days=1)
        else:
            bound = now - timedelta(minutes=severity.ack_sla_minutes or 0)
        yield from _open_incidents().filter(
            severity=severity, acknowledged_at__isnull=True, detected_at__lte=bound
        )


def _update_overdue(now: datetime):
    """Per severity with a cadence: open incidents whose last update (or acknowledgement, or
    detection) is older than the cadence."""
    for severity in Severity.objects.filter(update_cadence_minutes__isnull=False):
        yield from (
            _open_incidents()
            .filter(severity=severity)
            .alias(last_word=Coalesce(F("last_update_at"), F("acknowledged_at"), F("detected_at")))
            .filter(last_word__lte=now - timedelta(minutes=severity.update_cadence_minutes))
        )


def _context(incident: Incident, title: str, fields: list) -> dict:
    url = absolute_url(incident.get_absolute_url())
    return {
        "title": title,
        "url": url,
        "severity": str(incident.severity),
        "fields": [["Incident", f"{incident.reference} {incident.title}"], *fields],
        "actions": [["Open the incident", url]],
    }


def _ago(now: datetime, then: datetime) -> str:
    return f"{human_delta(now - then)} ago"


class AckOverdueRule(Rule):
    def due(self, *, now: datetime, config: EffectiveConfig):
        for incident in _unacknowledged_past_sla(now):
            due = incident.ack_due_at()
            if due > now:
                continue
            manager = incident.owning_team.manager if incident.owning_team else None

            def escalate(incident=incident):
                from incidents import paging

                paging.open_incident_page(incident, "ack_overdue")

            yield Reminder(
                object_key=f"incidents.incident:{incident.pk}",
                due_point=due,
                recipients=[manager] if manager and manager.is_active else [],
                template="reminders/generic",
                context=_context(
                    incident,
                    f"Not acknowledged: {incident.reference} {incident.title}",
                    [
                        ["Acknowledgement was due", _ago(now, due)],
                        ["Severity SLA", incident.severity.ack_sla_display],
                    ],
                ),
                related=incident,
                action=escalate,
            )


class UpdateOverdueRule(Rule):
    def due(self, *, now: datetime, config: EffectiveConfig):
        for incident in _update_overdue(now):
            due = incident.next_update_due_at()
            if due is None or due > now:
                continue
            key = f"incidents.incident:{incident.pk}"
            first = incident.commander or incident.acknowledged_by
            manager = incident.owning_team.manager if incident.owning_team else None
            fields = [["Update was due", _ago(now, due)], ["Cadence", incident.severity.cadence_display]]
            if first is not None and first.is_active:
                yield Reminder(
                    object_key=key,
                    due_point=due,
                    recipients=[first],
                    template="reminders/generic",
                    context=_context(incident, f"Status update overdue: {incident.reference}", fields),
                    related=incident,
                )
            after = config.escalate_after or timedelta(minutes=incident.severity.update_cadence_minutes)
            if manager is not None and manager.is_active and now >= due + after:
                yield Reminder(
                    object_key=key,
                    due_point=due + after,
                    recipients=[manager],
                    template="reminders/generic",
                    context={
                        **_context(incident, f"Still no status update: {incident.reference}", fields),
                        "stage": 2,
                    },
                    stage=2,
                    related=incident,
                )


RULES = [
    AckOverdueRule(
        key="incidents.ack_overdue",
        title="Incident not acknowledged within its SLA",
        description="Escalates via paging and tells the owning team's manager.",
        paging=True,
    ),
    UpdateOverdueRule(
        key="incidents.update_overdue",
        title="Incident status update overdue",
        description="Reminds the commander, then the team's manager after a further interval "
        "(default: one update cadence).",
    ),
]
