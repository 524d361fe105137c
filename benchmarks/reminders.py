"""SLA reminders: one sweep over 100,000 open action items, 20,000 incidents and 5,000
runbooks, of which 1% are due.

Prints, at 10% and at 100% of that size (same run): the time and query count of selecting
what is due (every rule's ``due()``: should not grow with the number of rows), and of the
full sweep (selection + writing each reminder and its outbox rows: grows with what is due,
not with the table sizes). A second sweep right after shows the exactly-once ledger at work.
"""

import time
from datetime import timedelta

from _harness import django_with_fresh_db, report

OWNERS = 200
TEAMS = 20


def populate(scale: float, now, offset: int) -> dict:
    from accounts.models import User
    from catalog.models import Service, Team
    from incidents.models import Incident, Severity
    from postmortems.models import ActionItem, Postmortem
    from runbooks.models import Runbook

    n_incidents, n_items, n_runbooks = int(20_000 * scale), int(100_000 * scale), int(5_000 * scale)
    managers = User.objects.bulk_create(
        [User(username=f"m{offset}-{i}", email=f"m{offset}-{i}@example.com") for i in range(TEAMS)]
    )
    teams = Team.objects.bulk_create(
        [Team(name=f"T{offset}-{i}", slug=f"t{offset}-{i}", manager=managers[i]) for i in range(TEAMS)]
    )
    services = Service.objects.bulk_create(
        [Service(name=f"S{offset}-{i}", slug=f"s{offset}-{i}", owner_team=t) for i, t in enumerate(teams)]
    )
    owners = User.objects.bulk_create(
        [User(username=f"o{offset}-{i}", email=f"o{offset}-{i}@example.com") for i in range(OWNERS)]
    )
    sev3 = Severity.objects.get(level=3)  # acknowledge within 4 h, no update cadence
    base = Incident.objects.order_by("-number").values_list("number", flat=True).first() or 1000
    incidents = []
    for i in range(n_incidents):
        due = i % 100 == 0  # 1%: detected 5 h ago and never acknowledged
        detected = now - (timedelta(hours=5) if due else timedelta(minutes=30))
        incidents.append(Incident(
            number=base + 1 + i, title=f"incident {i}", severity=sev3, peak_severity=sev3, started_at=detected, detected_at=detected,
            owning_team=teams[i % TEAMS], primary_service=services[i % TEAMS],
        ))  # fmt: skip
    incidents = Incident.objects.bulk_create(incidents, batch_size=2000)
    postmortems = Postmortem.objects.bulk_create(
        [Postmortem(incident=inc, owner=owners[k % OWNERS], team=inc.owning_team, due_at=now + timedelta(days=30), created_by=owners[0]) for k, inc in enumerate(incidents[: max(1, n_items // 100)])]
    )  # fmt: skip
    items = []
    for i in range(n_items):
        due = i % 100 == 0  # 1%: due tomorrow; the rest in two months
        items.append(ActionItem(
            postmortem=postmortems[i % len(postmortems)], title=f"item {i}", owner=owners[i % OWNERS],
            team=teams[i % TEAMS], due_date=(now + timedelta(days=1 if due else 60)).date(), created_by=owners[0],
        ))  # fmt: skip
    ActionItem.objects.bulk_create(items, batch_size=5000)
    runbooks = []
    for i in range(n_runbooks):
        due = i % 100 == 0
        reviewed = now - timedelta(days=100 if due else 10)
        runbooks.append(Runbook(
            title=f"runbook {i}", slug=f"rb-{offset}-{i}", owner_team=teams[i % TEAMS], last_reviewed_at=reviewed,
            review_due_at=reviewed + timedelta(days=90), stale_at=reviewed + timedelta(days=180),
        ))  # fmt: skip
    Runbook.objects.bulk_create(runbooks, batch_size=2000)
    return {"incidents": n_incidents, "action items": n_items, "runbooks": n_runbooks}


def per_rule(now) -> list[tuple[str, str]]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from reminders import registry, services

    configs = services.sync_rule_configs()
    out = []
    for rule in registry.rules():
        with CaptureQueriesContext(connection) as q:
            started = time.perf_counter()
            n = len(list(rule.due(now=now, config=services.effective_config(rule, configs.get(rule.key)))))
            ms = (time.perf_counter() - started) * 1000
        out.append((f"  {rule.key}", f"{ms:.0f} ms, {len(q.captured_queries)} queries, {n} due"))
    return out


def measure(now):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from reminders import services

    with CaptureQueriesContext(connection) as plan_q:
        started = time.perf_counter()
        planned = services.plan(now=now)
        plan_ms = (time.perf_counter() - started) * 1000
    with CaptureQueriesContext(connection) as sweep_q:
        started = time.perf_counter()
        first = services.sweep(now=now)
        sweep_ms = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    second = services.sweep(now=now)
    again_ms = (time.perf_counter() - started) * 1000
    return {
        "planned": len(planned), "plan_ms": plan_ms, "plan_queries": len(plan_q.captured_queries),
        "sent": first.sent, "sweep_ms": sweep_ms, "sweep_queries": len(sweep_q.captured_queries),
        "again_sent": second.sent, "again_ms": again_ms,
    }  # fmt: skip


def main() -> None:
    with django_with_fresh_db():
        from django.utils import timezone

        from incidents import services as incident_services

        # 10:00 UTC: after the daily 09:00 digests (owners are in UTC), so they are due too
        now = timezone.now().replace(hour=10, minute=0, second=0, microsecond=0)
        rows = []
        with incident_services.quiet():
            small = populate(0.1, now, 1)
        m_small = measure(now + timedelta(seconds=1))
        with incident_services.quiet():
            large = populate(0.9, now, 2)  # the two populations add up to the full size
        total = {k: small[k] + large[k] for k in small}
        m_large = measure(now + timedelta(seconds=2))
        for label, size, m in (("10%", small, m_small), ("100%", total, m_large)):
            rows += [
                (f"{label}: rows", ", ".join(f"{v:,} {k}" for k, v in size.items())),
                (
                    f"{label}: select what is due",
                    f"{m['plan_ms']:.0f} ms, {m['plan_queries']} queries, {m['planned']} reminders",
                ),
                (
                    f"{label}: full sweep (send)",
                    f"{m['sweep_ms']:.0f} ms, {m['sweep_queries']} queries, {m['sent']} sent",
                ),
                (f"{label}: sweep again at once", f"{m['again_ms']:.0f} ms, {m['again_sent']} sent"),
            ]
        rows.append(
            ("selection queries 100% / 10%", f"{m_large['plan_queries']} / {m_small['plan_queries']}")
        )
        rows.append(("selection time ratio 100% / 10%", f"{m_large['plan_ms'] / m_small['plan_ms']:.2f}x"))
        rows.append(("selection per rule at 100%", ""))
        rows += per_rule(now + timedelta(seconds=3))
        report("reminder sweep (target: selection <= 1 s, queries independent of rows)", rows)


if __name__ == "__main__":
    main()
