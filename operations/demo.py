"""Demo operating model: the seven default duties for every demo team, with a realistic past.

Past cycles are checked in (a few late, a few missed) so histories and streaks have
something to show; some duties are left overdue, one is unowned and one is owned by
someone who is not in the team, so the gaps and the reminders have work to do.
"""

from __future__ import annotations

from datetime import date, time, timedelta

from django.utils import timezone

from catalog.demo import TEAMS
from operations import services
from operations.models import Responsibility

ZONES = {
    "platform": "Europe/Berlin",
    "payments": "America/New_York",
    "integrations": "Europe/London",
    "edge": "Asia/Kolkata",
    "web": "Europe/Berlin",
}

Area = Responsibility.Area
Cadence = Responsibility.Cadence

# area, title, cadence, cron, weekday (0 = Monday) or day of month, due time, owner index, backup index,
# what done means
DUTIES = [
    (Area.INCIDENT_TRIAGE, "Incident triage", Cadence.CRON, "0 10 * * 1-5", None, time(10, 0), 0, 1,
     "Every open incident and alert from the last day has a severity, an owner and a next step; "
     "duplicates are merged."),
    (Area.BACKLOG_HYGIENE, "Backlog hygiene", Cadence.FORTNIGHTLY, "", 1, time(15, 0), 1, 2,
     "Tickets older than 90 days are closed or re-justified; every bug has a priority and an owner."),
    (Area.RUNBOOK_UPKEEP, "Runbook upkeep", Cadence.MONTHLY, "", 31, time(11, 0), 2, 0,
     "Runbooks of the team's tier-1 services are reviewed; stale steps fixed; one runbook exercised."),
    (Area.RELEASE_MANAGEMENT, "Release management", Cadence.WEEKLY, "", 3, time(14, 0), 0, 2,
     "The week's release is cut, its readiness review signed off and the changelog published."),
    (Area.SUPPORT_ESCALATION, "Support escalation path review", Cadence.MONTHLY, "", 1, time(9, 30), 1, 0,
     "Support escalations of the month are reviewed with support; the path and contacts are current."),
    (Area.POSTMORTEM_REVIEW, "Postmortem review", Cadence.WEEKLY, "", 2, time(16, 0), 2, 1,
     "Every postmortem due this week is reviewed; action items have owners and dates."),
    (Area.DEPENDENCY_UPGRADES, "Dependency upgrades", Cadence.QUARTERLY, "", 15, time(10, 0), 0, 1,
     "Security advisories triaged; runtimes and major libraries within one version of current."),
]  # fmt: skip

# (team, title) -> what the demo leaves undone: cycles missed at the end (overdue)
OVERDUE = {
    ("platform", "Postmortem review"): 1,
    ("payments", "Runbook upkeep"): 1,
    ("integrations", "Release management"): 2,
    ("edge", "Incident triage"): 3,
    ("web", "Backlog hygiene"): 1,
}
UNOWNED = {("web", "Support escalation path review")}
OUTSIDE_OWNER = {("edge", "Dependency upgrades"): "alice"}  # not in Edge & Domains: a gap
HISTORY_SPAN = {
    Cadence.CRON: timedelta(days=12),
    Cadence.WEEKLY: timedelta(weeks=8),
    Cadence.FORTNIGHTLY: timedelta(weeks=14),
    Cadence.MONTHLY: timedelta(days=190),
    Cadence.QUARTERLY: timedelta(days=400),
}


def _first_due_on(cadence: str, anchor: int | None, start: date) -> date:
    if cadence in (Cadence.WEEKLY, Cadence.FORTNIGHTLY):
        return start + timedelta(days=(anchor - start.weekday()) % 7)
    if cadence in (Cadence.MONTHLY, Cadence.QUARTERLY):
        # the anchor day in the start month (a month with 31 days keeps "on the 31st" honest)
        year, month = start.year, start.month
        while anchor > 28 and month not in (1, 3, 5, 7, 8, 10, 12):
            month = month % 12 + 1
            year += 1 if month == 1 else 0
        return date(year, month, anchor)
    return start


def seed(ctx) -> str:
    now = timezone.now()
    members = {slug: ms for slug, _n, _mgr, ms, *_ in TEAMS}
    created = checked = 0
    for slug, team in ctx.teams.items():
        people = [ctx.users[u] for u in members[slug]]
        for area, title, cadence, cron, anchor, due, owner_i, backup_i, done in DUTIES:
            key = (slug, title)
            owner = None if key in UNOWNED else ctx.users.get(OUTSIDE_OWNER.get(key, ""), people[owner_i])
            duty = Responsibility.objects.filter(team=team, title=title).first()
            if duty is None:
                start = (now - HISTORY_SPAN[cadence]).astimezone(timezone.get_fixed_timezone(0)).date()
                duty = services.save_responsibility(
                    team=team,
                    title=title,
                    area=area,
                    definition_of_done=done,
                    owner=owner,
                    backup=people[backup_i],
                    cadence=cadence,
                    cron_expression=cron,
                    first_due_on=_first_due_on(cadence, anchor, start),
                    due_time=due,
                    time_zone=ZONES.get(slug, "UTC"),
                    services=[
                        s for s in ctx.services.values() if s.owner_team_id == team.pk and s.tier == "tier-1"
                    ],
                )
                created += 1
                checked += _replay_history(duty, now=now, leave_missed=OVERDUE.get(key, 0))
    ctx.responsibilities = {(d.team.slug, d.title): d for d in Responsibility.objects.select_related("team")}
    return f"{created} duties, {checked} check-ins"


def _replay_history(duty: Responsibility, *, now, leave_missed: int) -> int:
    """Check in each past cycle (one late, one missed along the way), leaving the last
    ``leave_missed`` cycles undone so the duty is overdue."""
    sched = duty.schedule()
    points = list(sched.points(duty.next_due_at, now))
    if leave_missed:
        points = points[:-leave_missed] if len(points) > leave_missed else []
    actor = duty.backup if duty.owner is None or not duty.owner.is_active else duty.owner
    count = 0
    for i, point in enumerate(points):
        if i == 2 and len(points) > 4:
            continue  # a missed cycle in the history
        late = i == 4
        done_at = point + timedelta(hours=3) if late else point - timedelta(hours=2)
        if done_at > now:
            break
        services.check_in(
            responsibility=duty,
            actor=actor,
            done_at=done_at,
            note="Done - see the board." if not late else "Done late: the owner was on call that week.",
            now=now,
        )
        duty.refresh_from_db()
        count += 1
    return count
