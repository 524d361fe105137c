"""Delivery metrics over a large deployment history.

Seeds 1,000 then 100,000 production deployments (bulk_create, one year, three services per
team, five teams, ~15% change failures, lead times and restores of every size) with 20,000
incidents, 2% of the deployments confirmed as the cause of one, and prints at both sizes:
queries and median / p95 ms for GET /api/v1/metrics/delivery/ (default 30 days and 365 days,
every breakdown), the dashboard with its Delivery panel, and the Prometheus scrape, with the
large / small ratio measured in the same run. Target: <= 300 ms at 100,000 on PostgreSQL with
a query count independent of the rows (run with DATABASE_URL=postgres://...).
"""

import os

from _harness import django_with_fresh_db, report, timed

SMALL, LARGE = 1_000, 100_000
INCIDENTS = 20_000


def seed(count: int, offset: int, services, pipeline) -> None:
    import random
    from datetime import timedelta

    from django.utils import timezone

    from deployments.models import Deployment

    rng = random.Random(offset)
    now = timezone.now()
    through = Deployment.services.through
    batch = []
    for i in range(count):
        started = now - timedelta(minutes=rng.randrange(365 * 24 * 60), hours=1)
        roll = rng.random()
        status = "succeeded" if roll > 0.12 else ("failed" if roll > 0.06 else "rolled_back")
        if started > now - timedelta(hours=2) and rng.random() < 0.3:
            status = "running"
        finished = None if status == "running" else started + timedelta(minutes=rng.randrange(2, 60))
        batch.append(
            Deployment(
                client_key=f"bench-{offset + i}",
                version=f"1.{i % 100}.{i}",
                environment="production",
                status=status,
                started_at=started,
                finished_at=finished,
                rolled_back_at=finished if status == "rolled_back" else None,
                commit_at=started - timedelta(minutes=rng.randrange(10, 10_000))
                if rng.random() < 0.9
                else None,
                commit_sha=f"{i:040x}",
                triggered_by="bench",
                reported_by=pipeline,
                reviewed=rng.random() < 0.3,
                rollback_tested=rng.random() < 0.5,
                change_failure=status in ("failed", "rolled_back"),
            )
        )
    created = []
    for start in range(0, len(batch), 5000):
        created += Deployment.objects.bulk_create(batch[start : start + 5000])
    links = [through(deployment_id=d.pk, service_id=rng.choice(services).pk) for d in created]
    through.objects.bulk_create(links, batch_size=10_000)


def seed_incidents(services, severities, admin) -> None:
    import random
    from datetime import timedelta

    from django.utils import timezone

    from deployments.models import Deployment, IncidentLink
    from incidents.models import Incident
    from tests.metrics.factories import build

    rng = random.Random(7)
    now = timezone.now()
    batch = []
    for i in range(INCIDENTS):
        service = rng.choice(services)
        detected = now - timedelta(minutes=rng.randrange(365 * 24 * 60))
        ttm = rng.lognormvariate(3.0, 1.0)
        batch.append(
            build(
                detected_at=detected,
                ttd=rng.lognormvariate(2.0, 1.0),
                tta=2,
                ttm=ttm,
                ttr=ttm + 30,
                level=rng.choice((1, 2, 3, 4)),
                source="monitoring",
                team=service.owner_team,
                service=service,
                commander=admin,
                number=10_000 + i,
                severities=severities,
                title=f"Bench incident {i}",
            )
        )
    created = Incident.objects.bulk_create(batch, batch_size=5000)
    through = Incident.services.through
    through.objects.bulk_create([through(incident_id=x.pk, service_id=x.primary_service_id) for x in created])
    # 2% of the deployments confirmed as the cause of an incident
    deployments = list(Deployment.objects.order_by("?").values_list("pk", flat=True)[: LARGE // 50])
    links = [
        IncidentLink(
            deployment_id=d,
            incident_id=rng.choice(created).pk,
            verdict="confirmed",
            decided_by=admin,
            decided_at=now,
            minutes_before_impact=rng.randrange(600),
        )
        for d in deployments
    ]
    IncidentLink.objects.bulk_create(links, batch_size=5000, ignore_conflicts=True)
    Deployment.objects.filter(pk__in=deployments).update(change_failure=True, caused_incident=True)


def measure(client, token):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    out = {}
    targets = (
        ("api /api/v1/metrics/delivery/ (30 days)", "/api/v1/metrics/delivery/", {}),
        ("api /api/v1/metrics/delivery/ (365 days)", "/api/v1/metrics/delivery/", {"start": _days_ago(364)}),
        ("dashboard with Delivery panel (30 days)", "/admin/", {}),
        ("dashboard with Delivery panel (365 days)", "/admin/", {"start": _days_ago(364)}),
        ("prometheus /metrics", "/metrics", None),
    )
    for label, url, params in targets:
        kwargs = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if params is None else {}

        def get(url=url, params=params, kwargs=kwargs):
            response = client.get(url, params or {}, **kwargs)
            assert response.status_code == 200, (url, response.status_code)

        with CaptureQueriesContext(connection) as ctx:
            get()
        out[label] = (len(ctx.captured_queries), timed(get, repeat=10))
    return out


def delivery_only(filters_days: int) -> dict:
    """The delivery computation alone (no HTTP, no other dashboard panel)."""
    from datetime import timedelta

    from django.utils import timezone

    from metrics import delivery
    from metrics.selectors import Filters, day_start

    today = timezone.localdate()
    filters = Filters(
        start=day_start(today - timedelta(days=filters_days - 1)), end=day_start(today + timedelta(days=1))
    )
    return timed(lambda: delivery.delivery_report(filters), repeat=10)


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
            for j in range(3)
        ]
        severities = {s.level: s for s in Severity.objects.all()}

        def analyze():
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("ANALYZE")

        seed(SMALL, 0, services, admin)
        analyze()
        small = measure(client, token)
        small_engine = {days: delivery_only(days) for days in (30, 365)}
        seed(LARGE - SMALL, SMALL, services, admin)
        seed_incidents(services, severities, admin)
        analyze()
        large = measure(client, token)
        large_engine = {days: delivery_only(days) for days in (30, 365)}

        rows = [("database", connection.vendor), ("incidents at the large size", f"{INCIDENTS:,}")]
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
        for days in (30, 365):
            s, big = small_engine[days]["median_ms"], large_engine[days]["median_ms"]
            rows.append(
                (
                    f"delivery_report alone ({days} days): median ms at {SMALL:,} / {LARGE:,}",
                    f"{s} / {big} ({big / s:.2f}x)",
                )
            )
        worst_api = max(large[k][1]["median_ms"] for k in large if k.startswith("api"))
        rows.append(
            (
                "delivery API target <= 300 ms at 100,000",
                f"{'met' if worst_api <= 300 else 'MISSED'} ({worst_api} ms)",
            )
        )
        report("delivery metrics: API, dashboard panel and Prometheus scrape", rows)


if __name__ == "__main__":
    os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "false")
    main()
