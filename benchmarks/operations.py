"""Operating model: the published page, the admin list, the API and the reminder rules stay flat.

Prints, for 5 teams x 7 duties and 50 teams x 20 duties (1,000 duties): queries per request and
median latency of /operating-model/, /operating-model.md, the responsibilities changelist
and GET /api/v1/responsibilities/, plus the time the two reminder rules take to plan a sweep
with a tenth of the duties overdue. The ratio large/small shows the cost of growth.
"""

from datetime import time, timedelta

from _harness import django_with_fresh_db, report, timed


def seed(teams: int, duties: int, offset: int) -> None:
    from django.utils import timezone

    from accounts.models import User
    from catalog.models import Service, Team
    from operations import cadence
    from operations.models import Responsibility

    today = timezone.now().date()
    people = User.objects.bulk_create([User(username=f"p{offset}-{i}") for i in range(teams * 3)])
    rows = []
    for t in range(teams):
        team = Team.objects.create(name=f"Team {offset}-{t}", slug=f"team-{offset}-{t}")
        team.members.set(people[t * 3 : t * 3 + 3])
        Service.objects.create(name=f"svc {offset}-{t}", slug=f"svc-{offset}-{t}", owner_team=team)
        for d in range(duties):
            overdue = d % 10 == 0
            first = today - timedelta(days=20) if overdue else today + timedelta(days=1 + d % 6)
            sched = cadence.Cadence("weekly", "Europe/Berlin", first, time(9, 0))
            due = sched.first()
            rows.append(
                Responsibility(
                    title=f"Duty {d}",
                    area="maintenance",
                    definition_of_done="done",
                    team=team,
                    owner=people[t * 3 + d % 3],
                    backup=people[t * 3 + (d + 1) % 3],
                    cadence="weekly",
                    first_due_on=first,
                    due_time=time(9, 0),
                    time_zone="Europe/Berlin",
                    next_due_at=due,
                    due_soon_at=due - timedelta(days=1),
                    tracking_since=due,
                )
            )
    # bulk_create: the benchmark measures reads; services.save_responsibility is what tests cover
    Responsibility.objects.bulk_create(rows)


def measure(client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from operations.reminders import RULES
    from reminders.registry import EffectiveConfig

    out = {}
    urls = (
        ("page", "/operating-model/"),
        ("markdown", "/operating-model.md"),
        ("admin", "/admin/operations/responsibility/"),
        ("api", "/api/v1/responsibilities/"),
    )
    for label, url in urls:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        out[label] = (
            len(ctx.captured_queries),
            timed(lambda url=url: client.get(url), repeat=7)["median_ms"],
        )
    config = EffectiveConfig(enabled=True, interval=None, escalate_after=timedelta(days=1))
    now = timezone.now()

    def plan():
        return sum(1 for rule in RULES for _ in rule.due(now=now, config=config))

    out["rules"] = (plan(), timed(plan, repeat=7)["median_ms"])
    return out


def main() -> None:
    with django_with_fresh_db():
        from django.test import Client

        from accounts.models import User
        from incidents.defaults import ensure_severities

        ensure_severities()
        admin = User.objects.create_superuser("bench", "bench@example.com", "x")
        client = Client()
        client.force_login(admin)
        seed(5, 7, 0)
        small = measure(client)
        seed(45, 21, 1)  # 35 + 945 = 980 duties in 50 teams
        large = measure(client)
        rows = []
        for label in ("page", "markdown", "admin", "api"):
            rows += [
                (f"{label}: queries at 35 / 980 duties", f"{small[label][0]} / {large[label][0]}"),
                (f"{label}: median ms at 35 / 980", f"{small[label][1]} / {large[label][1]}"),
                (f"{label}: latency ratio", f"{large[label][1] / small[label][1]:.2f}x"),
            ]
        rows += [
            ("reminder rules: reminders planned at 35 / 980", f"{small['rules'][0]} / {large['rules'][0]}"),
            ("reminder rules: median ms", f"{small['rules'][1]} / {large['rules'][1]}"),
        ]
        report("operating model (35 vs 980 duties)", rows)


if __name__ == "__main__":
    main()
