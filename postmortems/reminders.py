"""Reminder rules for postmortems and remediation (run by the reminders sweep).

- ``postmortems.due_soon``: an unpublished postmortem due within one business day -> its owner.
- ``postmortems.overdue``: an overdue postmortem -> its owner (repeating daily), and from one
  day late its team's manager as well (stage 2).
- ``postmortems.action_items_digest``: one daily digest per owner of their action items due
  within two days or overdue, at 09:00 in the owner's time zone.
- ``postmortems.team_overdue_digest``: one weekly digest (Monday 09:00, business zone) per team
  manager listing the team's overdue items.

None of them looks at the incident's status: remediation is chased after the incident is
closed. Each rule runs one indexed query (see postmortems.selectors).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, time, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.urls import reverse

from opsportal import timeutil
from opsportal.links import absolute_url
from postmortems import selectors, services
from postmortems.models import ActionItem, Postmortem
from reminders.registry import EffectiveConfig, Reminder, Rule, latest_due_point

DIGEST_AT = time(9, 0)
DUE_SOON_DAYS = 2


def _pm_context(pm: Postmortem, title: str, tz) -> dict:
    url = absolute_url(pm.get_absolute_url())
    incident = pm.incident
    return {
        "title": title,
        "url": url,
        "severity": incident.severity.label,
        "fields": [
            ["Incident", f"{incident.reference} {incident.title}"],
            ["Owner", str(pm.owner)],
            ["Status", pm.get_status_display()],
            ["Due", pm.due_at.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")],
        ],
        "actions": [["Open postmortem", url]],
    }


class PostmortemDueSoonRule(Rule):
    def due(self, *, now: datetime, config: EffectiveConfig):
        tz = services.business_zone()
        for pm in selectors.postmortems_due_soon(now, tz, services.holidays()):
            yield Reminder(
                object_key=f"postmortems.postmortem:{pm.pk}",
                due_point=pm.due_at,
                recipients=[pm.owner],
                template="postmortems/due_soon",
                context=_pm_context(pm, f"Postmortem of {pm.incident.reference} is due soon", tz),
                related=pm,
            )


class PostmortemOverdueRule(Rule):
    def due(self, *, now: datetime, config: EffectiveConfig):
        tz = services.business_zone()
        for pm in selectors.postmortems_overdue(now):
            title = f"Postmortem of {pm.incident.reference} is overdue"
            point = latest_due_point(pm.due_at, config.interval, now)
            yield Reminder(
                object_key=f"postmortems.postmortem:{pm.pk}",
                due_point=point,
                recipients=[pm.owner],
                template="postmortems/overdue",
                context=_pm_context(pm, title, tz),
                related=pm,
            )
            manager = pm.team.manager if pm.team else None
            if config.escalate_after is None or manager is None or not manager.is_active:
                continue
            second = latest_due_point(pm.due_at + config.escalate_after, config.interval, now)
            if second is None:
                continue
            yield Reminder(
                object_key=f"postmortems.postmortem:{pm.pk}",
                due_point=second,
                recipients=[manager],
                template="postmortems/overdue",
                context={**_pm_context(pm, title, tz), "stage": 2},
                stage=2,
                related=pm,
            )


def _item_row(item: ActionItem, today) -> dict:
    late = (today - item.due_date).days
    return {
        "title": item.title,
        "owner": str(item.owner),
        "due": f"{item.due_date:%Y-%m-%d}",
        "days": late,
        "state": "overdue" if late > 0 else "due soon",
        "incident": item.postmortem.incident.reference,
        "url": absolute_url(reverse("admin:postmortems_actionitem_change", args=[item.pk])),
    }


def _remediation_url(**params) -> str:
    return absolute_url(reverse("admin:postmortems_actionitem_changelist") + "?" + urlencode(params))


class ActionItemDigestRule(Rule):
    def due(self, *, now: datetime, config: EffectiveConfig):
        today = services.local_today(now)
        by_owner: dict[int, list[ActionItem]] = defaultdict(list)
        for item in selectors.action_items_to_chase(today, DUE_SOON_DAYS):
            by_owner[item.owner_id].append(item)
        for items in by_owner.values():
            owner = items[0].owner
            if not owner.is_active:
                continue
            zone = ZoneInfo(owner.time_zone or "UTC")
            point = timeutil.localize(now.astimezone(zone).date(), DIGEST_AT, zone)
            if point > now:
                continue  # today's digest goes out at 09:00 the owner's time
            rows = [_item_row(i, today) for i in items]
            overdue = sum(1 for r in rows if r["days"] > 0)
            yield Reminder(
                object_key=f"postmortems.digest:user:{owner.pk}",
                due_point=point,
                recipients=[owner],
                template="postmortems/items_digest",
                context={
                    "title": f"Remediation: {overdue} overdue, {len(rows) - overdue} due soon",
                    "url": _remediation_url(whose="mine", due="unfinished"),
                    "fields": [[r["title"], f"{r['state']}, due {r['due']} ({r['incident']})"] for r in rows],
                    "actions": [["My action items", _remediation_url(whose="mine", due="unfinished")]],
                    "items": rows,
                },
                kind="digest",
            )


class TeamOverdueDigestRule(Rule):
    def due(self, *, now: datetime, config: EffectiveConfig):
        tz = services.business_zone()
        local = now.astimezone(tz)
        monday = local.date() - timedelta(days=local.weekday())
        point = timeutil.localize(monday, DIGEST_AT, tz)
        if point > now:
            point = timeutil.localize(monday - timedelta(days=7), DIGEST_AT, tz)
        today = local.date()
        by_team: dict[int, list[ActionItem]] = defaultdict(list)
        teams = {}
        for item in selectors.action_items_overdue(today).select_related(
            "team__manager", "postmortem__team__manager"
        ):
            team = item.team or item.postmortem.team
            if team is None:
                continue
            teams[team.pk] = team
            by_team[team.pk].append(item)
        for team_id, items in by_team.items():
            team = teams[team_id]
            if team.manager is None or not team.manager.is_active:
                continue
            rows = [_item_row(i, today) for i in items]
            yield Reminder(
                object_key=f"postmortems.team_digest:team:{team.pk}",
                due_point=point,
                recipients=[team.manager],
                template="postmortems/team_digest",
                context={
                    "title": f"{team.name}: {len(rows)} overdue remediation item(s)",
                    "url": _remediation_url(due="overdue"),
                    "fields": [
                        [r["title"], f"{r['owner']}, {r['days']} days late ({r['incident']})"] for r in rows
                    ],
                    "actions": [["Overdue remediation", _remediation_url(due="overdue")]],
                    "items": rows,
                    "team": team.name,
                },
                kind="digest",
            )


RULES = [
    PostmortemDueSoonRule(
        key="postmortems.due_soon",
        title="Postmortem due within a business day",
        description="Tells the owner of an unpublished postmortem due within one business day.",
    ),
    PostmortemOverdueRule(
        key="postmortems.overdue",
        title="Postmortem overdue",
        description="Chases the owner of an overdue postmortem every interval; after the escalation "
        "delay the team's manager too.",
        default_interval=timedelta(days=1),
        default_escalate_after=timedelta(days=1),
    ),
    ActionItemDigestRule(
        key="postmortems.action_items_digest",
        title="Action items digest (daily, per owner)",
        description="One digest a day per owner of action items overdue or due within two days, "
        "also after the incident is closed.",
    ),
    TeamOverdueDigestRule(
        key="postmortems.team_overdue_digest",
        title="Overdue remediation digest (weekly, per team manager)",
        description="Every Monday, each team manager gets the team's overdue action items.",
    ),
]
