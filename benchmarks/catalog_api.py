"""Foundation: catalog API and admin lists stay flat as the catalog grows.

Prints, for 20 and 1,000 services: queries per request and median latency of
GET /api/v1/services/ (page of 50) and the services admin changelist, plus /healthz.
The ratio large/small shows the cost of growth (target: same query count, ratio near 1).
"""

from _harness import django_with_fresh_db, report, timed


def seed(n: int, offset: int) -> None:
    from catalog.models import Service, ServiceDependency, ServiceLink, Team

    team = Team.objects.create(name=f"Bench {offset}", slug=f"bench-{offset}")
    services = Service.objects.bulk_create(
        [Service(name=f"svc-{offset}-{i}", slug=f"svc-{offset}-{i}", owner_team=team) for i in range(n)]
    )
    ServiceDependency.objects.bulk_create(
        [ServiceDependency(service=services[i], depends_on=services[i - 1]) for i in range(1, n)]
    )
    ServiceLink.objects.bulk_create(
        [
            ServiceLink(service=s, kind="dashboard", title="d", url=f"https://g.example.com/{s.slug}")
            for s in services
        ]
    )


def measure(client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    out = {}
    for label, url in (("api", "/api/v1/services/"), ("admin", "/admin/catalog/service/")):
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        out[label] = (
            len(ctx.captured_queries),
            timed(lambda url=url: client.get(url), repeat=15)["median_ms"],
        )
    return out


def main() -> None:
    with django_with_fresh_db():
        from django.test import Client

        from accounts.models import User

        admin = User.objects.create_superuser("bench", "bench@example.com", "x")
        client = Client()
        client.force_login(admin)

        seed(20, 0)
        small = measure(client)
        seed(980, 1)
        large = measure(client)
        health = timed(lambda: client.get("/healthz"), repeat=30)

        rows = []
        for label in ("api", "admin"):
            rows += [
                (f"{label}: queries at 20 / 1000 services", f"{small[label][0]} / {large[label][0]}"),
                (f"{label}: median ms at 20 / 1000", f"{small[label][1]} / {large[label][1]}"),
                (f"{label}: latency ratio 1000/20", f"{large[label][1] / small[label][1]:.2f}x"),
            ]
        rows.append(("/healthz median / p95 ms", f"{health['median_ms']} / {health['p95_ms']}"))
        report("catalog lists (page of 50 / 100 rows)", rows)


if __name__ == "__main__":
    main()
