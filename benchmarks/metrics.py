"""Metrics and the admin dashboard over a large incident history.

Seeds 1,000 then 100,000 real incidents (bulk_create, two years of history, five teams,
twenty services, a mix of severities, detection sources and open/resolved states) and
prints, at both sizes: queries and median/p95 ms for the dashboard (admin index, default
30-day period and a one-year period), GET /api/v1/metrics/ and the /metrics scrape, with
the large/small ratio. Target: dashboard <= 300 ms at 100,000 incidents on PostgreSQL
(run with DATABASE_URL=postgres://...; SQLite works but is not the target).
"""

import os

from _harness import django_with_fresh_db, report, timed

SMALL, LARGE = 1_000, 100_000


def seed(count: int, start_number: int, teams, services, severities, commander) -> None:
    import random
    from datetime import timedelta

    from django.utils import timezone

    from incidents.models import Incident
    from tests.metrics.factories import build

    rng = random.Random(start_number)
    now = timezone.now()
    sources = Incident.DetectionSource.values
    batch, links = [], []
    through = Incident.services.through
    for i in range(count):
        team_index = rng.randrange(len(teams))
        service = services[team_index * 4 + rng.randrange(4)]
        detected = now - timedelta(minutes=rng.randrange(2 * 365 * 24 * 60))
        open_ = rng.random() < 0.002 or (detected > now - timedelta(hours=6) and rng.random() < 0.5)
        ttd = rng.lognormvariate(2.0, 1.2)
        ttm = ttd + rng.lognormvariate(3.0, 1.0)
        batch.append(
            build(
                detected_at=detected,
                ttd=ttd,
                tta=rng.lognormvariate(1.5, 1.0),
                ttm=None if open_ else ttm,
                ttr=None if open_ else ttm + rng.lognormvariate(3.5, 1.0),
                level=rng.choice((1, 2, 2, 3, 3, 3, 4, 4)),
                source=rng.choice(sources),
                team=teams[team_index],
                service=service,
                commander=commander,
                number=start_number + i,
                severities=severities,
                title=f"Bench incident {start_number + i}",
                customers_affected=rng.choice((None, None, 0, 12, 300)),
            )
        )
        if len(batch) == 5000:
            links += _flush(batch, services, rng)
            batch = []
    if batch:
        links += _flush(batch, services, rng)
    through.objects.bulk_create(links, batch_size=10000)


def _flush(batch, services, rng):
    from incidents.models import Incident

    created = Incident.objects.bulk_create(batch)
    through = Incident.services.through
    links = []
    for incident in created:
        links.append(through(incident_id=incident.pk, service_id=incident.primary_service_id))
        if rng.random() < 0.3:
            other = rng.choice(services)
            if other.pk != incident.primary_service_id:
                links.append(through(incident_id=incident.pk, service_id=other.pk))
    return links


def measure(client, token, team_id):
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    out = {}
    targets = (
        ("dashboard (30 days)", "/admin/", {}),
        ("dashboard (365 days, one team)", "/admin/", {"start": _days_ago(364), "team": team_id}),
        ("dashboard (365 days)", "/admin/", {"start": _days_ago(364)}),
        ("api /api/v1/metrics/ (365 days)", "/api/v1/metrics/", {"start": _days_ago(364)}),
        ("prometheus /metrics", "/metrics", None),
    )
    for label, url, params in targets:
        kwargs = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if params is None else {}

        def get(url=url, params=params, kwargs=kwargs):
            response = client.get(url, params or {}, **kwargs)
            assert response.status_code == 200, (url, response.status_code)

        reset_queries()
        with CaptureQueriesContext(connection) as ctx:
            get()
        out[label] = (len(ctx.captured_queries), timed(get, repeat=15))
    return out


def profile(client) -> None:
    """METRICS_BENCH_PROFILE=1: the slowest queries of one dashboard render."""
    import time

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        client.get("/admin/")
    timings = []
    for q in ctx.captured_queries:
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(q["sql"])
        timings.append(((time.perf_counter() - started) * 1000, q["sql"][:300]))
    for ms, sql in sorted(timings, reverse=True)[:8]:
        print(f"  {ms:8.1f} ms  {sql}")


def _days_ago(days: int) -> str:
    from datetime import timedelta

    from django.utils import timezone

    return (timezone.localdate() - timedelta(days=days)).isoformat()


def main() -> None:
    with django_with_fresh_db():
        from django.conf import settings
        from django.db import connection
        from django.test import Client

        from accounts.models import User
        from catalog.models import Service, Team
        from incidents.defaults import ensure_severities
        from incidents.models import Severity

        ensure_severities()
        token = "bench-token"  # noqa: S105 - a throwaway database's scrape token
        settings.METRICS_TOKEN = token
        admin = User.objects.create_superuser("bench", "bench@example.com", "x")
        client = Client()
        client.force_login(admin)
        teams = [Team.objects.create(name=f"Team {i}", slug=f"team-{i}") for i in range(5)]
        services = [
            Service.objects.create(name=f"svc-{t}-{j}", slug=f"svc-{t}-{j}", owner_team=team)
            for t, team in enumerate(teams)
            for j in range(4)
        ]
        severities = {s.level: s for s in Severity.objects.all()}

        seed(SMALL, 1001, teams, services, severities, admin)
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("ANALYZE")
        small = measure(client, token, teams[0].pk)
        seed(LARGE - SMALL, 1001 + SMALL, teams, services, severities, admin)
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("ANALYZE")
        large = measure(client, token, teams[0].pk)

        rows = [("database", connection.vendor)]
        for label in small:
            (q_small, t_small), (q_large, t_large) = small[label], large[label]
            rows += [
                (f"{label}: queries at {SMALL:,} / {LARGE:,}", f"{q_small} / {q_large}"),
                (
                    f"{label}: median ms at {SMALL:,} / {LARGE:,}",
                    f"{t_small['median_ms']} / {t_large['median_ms']}",
                ),
                (f"{label}: p95 ms at {LARGE:,}", t_large["p95_ms"]),
                (f"{label}: latency ratio", f"{t_large['median_ms'] / t_small['median_ms']:.2f}x"),
            ]
        if os.environ.get("METRICS_BENCH_PROFILE"):
            profile(client)
        target = large["dashboard (30 days)"][1]["median_ms"]
        rows.append(
            ("dashboard target <= 300 ms at 100,000", f"{'met' if target <= 300 else 'MISSED'} ({target} ms)")
        )
        report("metrics dashboard, API and Prometheus scrape", rows)


if __name__ == "__main__":
    os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "false")
    main()
