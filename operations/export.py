"""The operating model as Markdown: the same document as the page, for wikis and onboarding packs."""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone

from operations.models import Health
from operations.selectors import OperatingModel
from opsportal.links import absolute_url


def cell(value) -> str:
    """One Markdown table cell: no line breaks, pipes and HTML-ish brackets escaped."""
    text = " ".join(str(value if value is not None else "").split())
    for ch in ("\\", "|", "<", ">", "*", "_", "`", "[", "]"):
        text = text.replace(ch, "\\" + ch)
    return text or "-"


def _row(*values) -> str:
    return "| " + " | ".join(cell(v) for v in values) + " |"


def _when(dt) -> str:
    return timezone.localtime(dt).strftime("%Y-%m-%d %H:%M") if dt else "never"


def _people(users) -> str:
    return ", ".join(str(u) for u in users) or "-"


def render(model: OperatingModel) -> str:
    site = getattr(settings, "SITE_NAME", "Ops Portal")
    out = [
        f"# Operating model - {site}",
        "",
        f"Generated from live data on {_when(model.generated_at)} ({settings.TIME_ZONE}). "
        f"Source: {absolute_url('/operating-model/')}",
        "",
        "Health: "
        + ", ".join(f"{label}: {model.health_counts.get(value, 0)}" for value, label in Health.choices),
        "",
        "## Severity framework",
        "",
    ]
    if model.severities:
        out += [
            _row(
                "Level",
                "Meaning",
                "When to use",
                "Acknowledge within",
                "Status updates",
                "Pages on-call",
                "Postmortem",
            ),
            _row("---", "---", "---", "---", "---", "---", "---"),
        ]
        for sev in model.severities:
            postmortem = (
                f"required, due {sev.postmortem_due_business_days} business days after resolution"
                if sev.postmortem_required
                else "optional"
            )
            out.append(
                _row(
                    sev.label,
                    sev.name,
                    sev.description,
                    sev.ack_sla_display,
                    f"every {sev.cadence_display}" if sev.update_cadence_minutes else "none",
                    "yes" if sev.pages_oncall else "no",
                    postmortem,
                )
            )
    else:
        out.append("No severities are defined yet.")
    if model.gaps:
        out += ["", "## Organisation-wide gaps", ""]
        out += [f"- **{cell(g.label)}**: {cell(g.message)}" for g in model.gaps]
    for section in model.teams:
        team = section.team
        out += ["", f"## {cell(team.name)}", ""]
        contact = [f"Manager: {cell(team.manager or 'not set')}"]
        if team.chat_channel:
            contact.append(f"Channel: {cell(team.chat_channel)}")
        if team.email:
            contact.append(f"Mailing list: {cell(team.email)}")
        out += [" - ".join(contact), ""]
        out += ["### Recurring duties", ""]
        if section.duties:
            out += [
                _row(
                    "Duty",
                    "Area",
                    "Owner",
                    "Backup",
                    "Cadence",
                    "Next due",
                    "Last done",
                    "Health",
                    "Done means",
                ),
                _row(*["---"] * 9),
            ]
            for row in section.duties:
                d = row.duty
                health = row.health_label + (
                    f" ({row.overdue_cycles} cycles)" if row.overdue_cycles > 1 else ""
                )
                out.append(
                    _row(
                        d.title,
                        d.area_label,
                        d.owner or "nobody",
                        d.backup or "nobody",
                        d.cadence_display,
                        _when(d.next_due_at),
                        _when(d.last_done_at),
                        health,
                        d.definition_of_done,
                    )
                )
        else:
            out.append("No recurring duties recorded.")
        out += ["", "### On-call schedules", ""]
        if section.schedules:
            for schedule in section.schedules:
                now_on = section.on_call.get(schedule.pk)
                who = (
                    f" - on call now: {cell(now_on.user)}"
                    if now_on and now_on.user
                    else " - nobody on call now"
                )
                out.append(f"- **{cell(schedule.name)}** ({cell(schedule.time_zone)}){who}")
                for layer in schedule.layers.all():
                    people = _people(m.user for m in layer.members.all())
                    out.append(
                        f"  - {cell(layer.name)}: every {layer.rotation_length} {cell(layer.rotation_unit)}, "
                        f"handoff {layer.handoff_time:%H:%M}; {cell(people)}"
                    )
        else:
            out.append("No on-call schedule.")
        out += ["", "### Escalation policies", ""]
        if section.policies:
            for policy in section.policies:
                default = " (team default)" if policy.is_team_default else ""
                repeat = f", repeats {policy.repeat}x" if policy.repeat else ""
                out.append(f"- **{cell(policy.name)}**{default}{repeat}")
                for level in policy.levels.all():
                    out.append(
                        f"  - Level {level.position}: {cell(_level_targets(level))}; next after {level.delay_minutes} min"
                    )
        else:
            out.append("No escalation policy.")
        if section.gaps:
            out += ["", "### Gaps", ""]
            out += [f"- **{cell(g.label)}**: {cell(g.message)}" for g in section.gaps]
    out.append("")
    return "\n".join(out)


def _level_targets(level) -> str:
    parts = [f"on call for {s.name}" for s in level.schedules.all()]
    if level.include_next_on_call and parts:
        parts.append("and whoever is on call next")
    parts += [str(u) for u in level.users.all()]
    return ", ".join(parts) or "nobody"
