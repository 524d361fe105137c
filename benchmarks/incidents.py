"""Incidents: lists stay flat as history grows, and transitions are cheap.

Prints, for 20 and 1,000 incidents: queries per request and median latency of
GET /api/v1/incidents/ (page of 50), the incidents admin changelist (page of 50) and the
support view; then the median cost of a full declare -> acknowledge -> resolve cycle.
The ratio large/small shows the cost of growth (target: same query count, ratio near 1).
"""

from _harness import django_with_fresh_db, report, timed


def seed(n: int, offset: int, actor) -> None:
    from catalog.models import Service, Team
    from incidents import services

    team = Team.objects.create(name=f"Bench {offset}", slug=f"bench-{offset}")
    svcs = [
        Service.objects.create(name=f"svc-{offset}-{i}", slug=f"svc-{offset}-{i}", owner_team=team)
        for i in range(3)
    ]
    with services.quiet():
        for i in range(n):
            incident = services.declare_incident(
                title=f"Bench incident {offset}-{i}",
                severity=1 + i % 4,
                services=svcs[: 1 + i % 3],
                actor=actor,
            )
            services.post_update(incident=incident, actor=actor, audience="internal", text="Looking.")
            if i % 3:
                services.resolve(incident=incident, actor=actor)


def measure(client, support_client):
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    out = {}
    for label, c, url in (
        ("api", client, "/api/v1/incidents/"),
        ("admin", client, "/admin/incidents/incident/"),
        ("support api", support_client, "/api/v1/incidents/"),
    ):
        reset_queries()  # seeding filled the debug query log past its limit
        with CaptureQueriesContext(connection) as ctx:
            assert c.get(url).status_code == 200
        out[label] = (
            len(ctx.captured_queries),
            timed(lambda c=c, url=url: c.get(url), repeat=15)["median_ms"],
        )
    return out


def main() -> None:
    with django_with_fresh_db():
        from django.contrib.auth.models import Group
        from django.test import Client

        from accounts import roles
        from accounts.models import User
        from incidents import services
        from incidents.defaults import ensure_severities

        ensure_severities()
        admin = User.objects.create_superuser("bench", "bench@example.com", "x")
        support = User.objects.create_user("bench-support", "s@example.com", "x")
        support.groups.add(Group.objects.get(name=roles.SUPPORT))
        client, support_client = Client(), Client()
        client.force_login(admin)
        support_client.force_login(support)

        seed(20, 0, admin)
        small = measure(client, support_client)
        seed(980, 1, admin)
        large = measure(client, support_client)

        from catalog.models import Service

        svc = Service.objects.first()

        def cycle():
            with services.quiet():
                incident = services.declare_incident(title="cycle", severity=2, services=[svc], actor=admin)
                services.acknowledge(incident=incident, actor=admin)
                services.resolve(incident=incident, actor=admin)

        lifecycle = timed(cycle, repeat=20)
        rows = []
        for label in ("api", "admin", "support api"):
            rows += [
                (f"{label}: queries at 20 / 1000 incidents", f"{small[label][0]} / {large[label][0]}"),
                (f"{label}: median ms at 20 / 1000", f"{small[label][1]} / {large[label][1]}"),
                (f"{label}: latency ratio 1000/20", f"{large[label][1] / small[label][1]:.2f}x"),
            ]
        rows.append(
            (
                "declare+acknowledge+resolve median / p95 ms",
                f"{lifecycle['median_ms']} / {lifecycle['p95_ms']}",
            )
        )
        report("incident lists (page of 50) and lifecycle", rows)


if __name__ == "__main__":
    main()
