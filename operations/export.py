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
    out += _release_process(model.release_process)
    out += _support_path(model.support)
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


def _release_process(rp) -> list[str]:
    out = [
        "",
        "## Release process",
        "",
        "Every release gets a readiness review: the checklist of the template chosen by its risk is "
        "copied into the review. Items are marked pass, fail or waived (a waiver needs a reason); "
        "automatic items are evaluated from live data and re-checked at sign-off and by the gate. "
        "A signature covers the item states at signing time - any change afterwards invalidates it.",
        "",
        f"Release leads: {cell(_people(rp.release_leads)) if rp.release_leads else 'nobody is in the Release leads group'}",
    ]
    if rp.uncovered_risks:
        risks = ", ".join(rp.uncovered_risks).lower()
        out += [
            "",
            f"**Gap**: no template covers {cell(risks)} risk releases: mark one template as the default.",
        ]
    if not rp.templates:
        out += ["", "No readiness template is set up yet."]
    for section in rp.templates:
        t = section.template
        used = (
            f"used for {', '.join(section.risks).lower()} risk"
            if section.risks
            else "not used by any risk level"
        )
        out += ["", f"### {cell(t.name)}{' (default)' if t.is_default else ''} - {cell(used)}", ""]
        if t.description:
            out += [cell(t.description), ""]
        signers = "; ".join(section.signers) or "nobody (the checklist alone decides)"
        out += [f"Signs off: {cell(signers)}", ""]
        if not section.items:
            out.append("No checklist items.")
            continue
        out += [
            _row("#", "Item", "Requirement", "How it is checked", "Evidence", "Guidance"),
            _row(*["---"] * 6),
        ]
        for row in section.items:
            item = row.item
            out.append(
                _row(
                    item.position,
                    item.title,
                    row.requirement,
                    f"automatic: {row.check_title}" if row.check_title else "marked by hand",
                    "required" if item.evidence_required else "-",
                    item.guidance,
                )
            )
    out += [
        "",
        "### Asking the gate from CI",
        "",
        "Deployment pipelines ask `GET /api/v1/releases/<id>/gate/` (API token) or run "
        "`manage.py release_gate <id | name [version]>` (exit 0 go, 1 no-go, 2 no such release). "
        "The answer is go only when every required item passes or is waived, every automatic check "
        "passes now, all sign-offs are present and valid"
        + (", and the deploy window is open" if rp.gate_enforces_window else "")
        + "; otherwise no-go with the reasons.",
    ]
    return out


def _support_path(sp) -> list[str]:
    config = sp.settings
    triage = (
        f"{cell(config.triage_policy.name)} ({cell(config.triage_policy.team)})"
        if config.triage_policy
        else "not set"
    )
    out = [
        "",
        "## Support escalation path",
        "",
        f"Support files a customer problem at {absolute_url('/support/')} with the affected service and "
        "its impact. It is routed to the service's own escalation policy, else its owning team's default "
        "policy; when the agent is not sure of the service, or the team has no policy, it goes to the "
        f"support-triage policy: **{triage}**.",
        "",
        _row("Impact", "Acknowledge within", "What happens"),
        _row("---", "---", "---"),
    ]
    for row in sp.slas:
        what = (
            "pages on-call through the policy at once"
            if row.pages
            else "tells the owning team (manager, mailing list); pages on-call if not acknowledged in time"
        )
        out.append(_row(row.label, row.sla, what))
    out += [
        "",
        "Still unacknowledged past its SLA: the page moves to the policy's next level and the owning "
        "team's manager is told.",
        "",
        f"Surge detection: {config.surge_threshold} escalations for one service within "
        f"{config.surge_window_minutes} min, with no open incident on it, open a "
        f"SEV-{config.surge_severity} incident and attach them.",
    ]
    if sp.routes:
        out += [
            "",
            "### Where each service's reports go",
            "",
            _row("Service", "Owning team", "Escalation policy", "Because"),
            _row("---", "---", "---", "---"),
        ]
        for route in sp.routes:
            out.append(
                _row(
                    route.service.name,
                    route.service.owner_team,
                    route.policy.name if route.policy else "nobody is paged",
                    route.via,
                )
            )
    return out


def _level_targets(level) -> str:
    parts = [f"on call for {s.name}" for s in level.schedules.all()]
    if level.include_next_on_call and parts:
        parts.append("and whoever is on call next")
    parts += [str(u) for u in level.users.all()]
    return ", ".join(parts) or "nobody"
