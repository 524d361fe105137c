"""Demo: a PagerDuty dry run already planned, as a team moving in would have left it - the
source organisation names demo people by e-mail, one person who has no account yet, a
schedule with a 90-minute turn that cannot be mapped, and a policy and a service."""

from __future__ import annotations

from datetime import datetime, time

from django.contrib.auth import get_user_model

from importers import org, planner, services
from importers.models import ImportRun


def _org() -> org.Org:
    User = get_user_model()
    people = {u.username: u.email for u in User.objects.filter(username__in=["maya", "ravi", "alice", "bob"])}
    users = [org.User(f"P{name.upper()}", email, name.title()) for name, email in people.items() if email]
    users.append(org.User("PNEW", "new.hire@example.com", "New Hire"))
    ids = [u.id for u in users if u.id != "PNEW"]
    start = datetime(2026, 1, 5, 9, 0)  # noqa: DTZ001 - a wall time in the schedule's zone, as org.Layer wants
    return org.Org(
        source="pagerduty",
        users=users,
        teams=[org.Team("PTEAM1", "Platform (PagerDuty)", ids)],
        schedules=[
            org.Schedule(
                "PSCH1",
                "Platform primary (PagerDuty)",
                "Europe/Berlin",
                "PTEAM1",
                [
                    org.Layer("Layer 1", start, "weeks", 1, ids),
                    org.Layer(
                        "Layer 2",
                        start,
                        "weeks",
                        1,
                        ids[:2],
                        [org.Restriction([0, 1, 2, 3, 4], time(9), time(17))],
                    ),
                ],
            ),
            org.Schedule(
                "PSCH2",
                "Database 90-minute handoffs",
                "UTC",
                "PTEAM1",
                unmappable="layer Layer 1: a turn of 5400 s is not a whole number of hours",
            ),
        ],
        policies=[
            org.Policy(
                "PPOL1", "Platform (PagerDuty)", "PTEAM1", [org.Rule(10, [org.Target("schedule", "PSCH1")])]
            )
        ],
        services=[org.Service("PSVC1", "Platform API (PagerDuty)", "PTEAM1", "PPOL1")],
        integrations=[
            org.Integration("PINT1", "Platform API events", "events_api_v2_inbound_integration", "PSVC1")
        ],
    )


def seed(ctx) -> str:
    if ImportRun.objects.filter(progress_note="demo dry run").exists():
        return "import run kept"
    manager = get_user_model().objects.filter(username="maya").first()
    plan = planner.plan(_org())
    result = {
        "ok": True,
        "plan": plan,
        "report": ["dry run: nothing was changed"],
        "verification": [],
        "new_urls": [],
    }
    services.record_run(actor=manager, source="pagerduty", result=result, applied=False, note="demo dry run")
    return "1 planned PagerDuty dry run"
