"""The blameless template's sections prefilled from the incident (pure reads, no writes).

Impact (duration in each severity, services, customers affected, support reports), the
timeline (every timeline event, editable afterwards) and detection (time to detect and who
saw it first) come from the incident's own record, so the author starts from facts.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone

from incidents.models import Incident, TimelineEvent
from incidents.selectors import timeline as incident_timeline
from opsportal import timeutil


def human_duration(delta: timedelta) -> str:
    return timeutil.human_delta(delta, precise=True)


def severity_durations(
    incident: Incident, events=None, now: datetime | None = None
) -> list[tuple[str, timedelta]]:
    """[("SEV-2", duration), ("SEV-1", duration), ...] in order of first occurrence, summed per level,
    from impact start to resolution (or now), split at every severity change on the timeline."""
    end = incident.resolved_at or now or timezone.now()
    start = incident.started_at
    if events is None:
        events = incident_timeline(incident)
    changes = [e for e in events if e.kind == TimelineEvent.Kind.SEVERITY_CHANGED and "to" in (e.data or {})]
    level = changes[0].data.get("from", incident.severity.level) if changes else incident.severity.level
    totals: dict[int, timedelta] = {}
    cursor = start
    for change in changes:
        at = min(max(change.occurred_at, start), end)
        totals[level] = totals.get(level, timedelta(0)) + (at - cursor)
        cursor, level = at, change.data["to"]
    totals[level] = totals.get(level, timedelta(0)) + max(end - cursor, timedelta(0))
    return [(f"SEV-{lvl}", d) for lvl, d in totals.items() if d > timedelta(0) or len(totals) == 1]


def customer_impact(incident: Incident, events=None, now: datetime | None = None) -> str:
    services = ", ".join(s.name for s in incident.services.all()) or "-"
    durations = severity_durations(incident, events, now)
    total = sum((d for _, d in durations), timedelta(0))
    lines = [
        f"- Impact duration: {human_duration(total)}"
        + (
            " (" + "; ".join(f"{label}: {human_duration(d)}" for label, d in durations) + ")"
            if durations
            else ""
        ),
        f"- Services affected: {services}",
        "- Customers affected: "
        + (f"{incident.customers_affected}" if incident.customers_affected is not None else "unknown"),
        f"- Support reports raised: {incident.reported_customers}",
    ]
    if incident.customer_impact.strip():
        lines += ["", incident.customer_impact.strip()]
    return "\n".join(lines)


def timeline(incident: Incident, events=None, tz: ZoneInfo | None = None) -> str:
    """One Markdown line per timeline event, oldest first, times in ``tz``."""
    tz = tz or ZoneInfo("UTC")
    if events is None:
        events = incident_timeline(incident)
    lines = []
    for e in events:
        who = str(e.actor) if e.actor_id else "automation"
        text = " ".join(e.text.split())
        lines.append(
            f"- {e.occurred_at.astimezone(tz):%Y-%m-%d %H:%M %Z} · {e.get_kind_display()} · {who}: {text}"
        )
    return "\n".join(lines)


FIRST_SEEN = {
    Incident.DetectionSource.SUPPORT: "Support saw it first: a customer reported it before any alert fired.",
    Incident.DetectionSource.MONITORING: "Monitoring saw it first (a probe or alert).",
    Incident.DetectionSource.SLO: "Monitoring saw it first (an SLO / error-budget alert).",
    Incident.DetectionSource.MANUAL: "Noticed internally by a person; neither monitoring nor support flagged it.",
}


def detection(incident: Incident) -> str:
    lines = [
        f"- How it was detected: {incident.get_detection_source_display()}",
        f"- {FIRST_SEEN.get(incident.detection_source, '')}".rstrip(),
        f"- Time to detect: {human_duration(incident.detected_at - incident.started_at)} "
        "(impact start to detection)",
    ]
    if incident.acknowledged_at:
        lines.append(
            f"- Time to acknowledge: {human_duration(incident.acknowledged_at - incident.detected_at)}"
        )
    if incident.mitigated_at:
        lines.append(f"- Time to mitigate: {human_duration(incident.mitigated_at - incident.started_at)}")
    if incident.resolved_at:
        lines.append(f"- Time to resolve: {human_duration(incident.resolved_at - incident.started_at)}")
    return "\n".join(lines)


def sections(incident: Incident, tz: ZoneInfo | None = None, now: datetime | None = None) -> dict[str, str]:
    """Initial text of every prefillable section."""
    events = list(incident_timeline(incident))
    return {
        "summary": incident.summary.strip(),
        "customer_impact": customer_impact(incident, events, now),
        "timeline": timeline(incident, events, tz),
        "detection": detection(incident),
        "external_message": incident.customer_message.strip(),
    }
