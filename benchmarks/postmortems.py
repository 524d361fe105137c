"""Postmortems: the Remediation list, the reminder hooks and archive search stay flat as
remediation piles up.

Prints, for 100 and 10,000 action items (most of them finished, as in a real archive):
queries and median latency of the Remediation changelist and GET /api/v1/action-items/,
the reminder hooks (overdue / due soon, served by partial indexes over unfinished rows) and
archive search over 50 and 2,000 postmortems. Ratios large/small show the cost of growth.
"""

from datetime import timedelta

from _harness import django_with_fresh_db, report, timed

WORDS = [
    "database",
    "pool",
    "retry",
    "storm",
    "certificate",
    "renewal",
    "queue",
    "backlog",
    "webhook",
    "signature",
    "cache",
    "eviction",
]


def seed(n_items: int, n_pm: int, offset: int, admin) -> None:
    from django.utils import timezone

    from catalog.models import Service, Team
    from incidents.models import Incident, Severity
    from postmortems.models import ActionItem, Postmortem

    now = timezone.now()
    team = Team.objects.create(name=f"Bench {offset}", slug=f"bench-{offset}", manager=admin)
    service = Service.objects.create(name=f"svc-{offset}", slug=f"svc-{offset}", owner_team=team)
    sev = Severity.objects.get(level=2)
    incidents = Incident.objects.bulk_create(
        [
            Incident(
                number=100000 + offset * 10000 + i, title=f"Incident {offset}-{i} {WORDS[i % len(WORDS)]}",
                severity=sev, peak_severity=sev, status="resolved", started_at=now - timedelta(days=30), detected_at=now - timedelta(days=30),
                acknowledged_at=now - timedelta(days=30), commander=admin, mitigated_at=now - timedelta(days=29),
                resolved_at=now - timedelta(days=29), owning_team=team, primary_service=service,
            )
            for i in range(n_pm)
        ]
    )  # fmt: skip
    pms = Postmortem.objects.bulk_create(
        [
            Postmortem(
                incident=inc, owner=admin, team=team, due_at=now - timedelta(days=20), created_by=admin,
                root_cause=f"{WORDS[i % len(WORDS)]} {WORDS[(i * 7) % len(WORDS)]} contributed",
                search_text=f"{inc.title} {WORDS[i % len(WORDS)]} {WORDS[(i * 7) % len(WORDS)]} contributed {i}",
            )
            for i, inc in enumerate(incidents)
        ]
    )  # fmt: skip
    today = now.date()
    ActionItem.objects.bulk_create(
        [
            ActionItem(
                postmortem=pms[i % len(pms)], title=f"item {offset}-{i}", owner=admin, team=team,
                due_date=today + timedelta(days=(i % 30) - 15),
                status="done" if i % 10 else "open", completed_at=now if i % 10 else None, created_by=admin,
            )
            for i in range(n_items)
        ]
    )  # fmt: skip


def measure(client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from postmortems import selectors, services

    out = {}
    for label, url in (
        ("remediation admin", "/admin/postmortems/actionitem/"),
        ("action-items API", "/api/v1/action-items/"),
        ("postmortems admin", "/admin/postmortems/postmortem/"),
    ):
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        out[label] = (
            len(ctx.captured_queries),
            timed(lambda url=url: client.get(url), repeat=10)["median_ms"],
        )
    today = services.local_today()
    now = timezone.now()
    hooks = {
        "hook: items overdue": lambda: list(selectors.action_items_overdue(today)[:500]),
        "hook: items due soon": lambda: list(selectors.action_items_due_soon(today)[:500]),
        "hook: postmortems overdue": lambda: list(selectors.postmortems_overdue(now)[:500]),
        "archive search": lambda: list(selectors.search_archive("retry storm")[:50]),
    }
    for label, fn in hooks.items():
        with CaptureQueriesContext(connection) as ctx:
            fn()
        out[label] = (len(ctx.captured_queries), timed(fn, repeat=10)["median_ms"])
    return out


def main() -> None:
    with django_with_fresh_db():
        from django.db import connection
        from django.test import Client

        from accounts.models import User

        admin = User.objects.create_superuser("bench", "bench@example.com", "x")
        client = Client()
        client.force_login(admin)
        seed(100, 50, 0, admin)
        small = measure(client)
        seed(9900, 1950, 1, admin)
        large = measure(client)
        rows = [("database", connection.vendor)]
        for label in small:
            rows += [
                (f"{label}: queries small / large", f"{small[label][0]} / {large[label][0]}"),
                (f"{label}: median ms small / large", f"{small[label][1]} / {large[label][1]}"),
                (f"{label}: ratio large/small", f"{large[label][1] / max(small[label][1], 0.01):.2f}x"),
            ]
        report("postmortems: 100 -> 10,000 action items, 50 -> 2,000 postmortems", rows)


if __name__ == "__main__":
    main()
