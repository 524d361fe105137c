"""SLO benchmark (issue 23): 500 SLOs x 28 days of per-minute rollups (20,160,000 minute rows,
seeded with generate_series on PostgreSQL), then

- one sweep computing every budget and burn rate (``slos.services.sweep``), its query count at
  100 and at 500 active SLOs (it must not depend on the number of SLOs or rows);
- the dashboard SLO panel (``slos.dashboard.panel``), from the sweep's snapshot and computed;
- rolling up 1,000 probe results as they arrive: ``probes.services.record_outcomes`` for 1,000
  probes (200 of them in probe SLOs) with the rollup receiver connected vs disconnected, same run.

Figures are printed (median of repeated runs) with same-run ratios; nothing is asserted.
PostgreSQL only (SQLite has no generate_series).
"""

from __future__ import annotations

import time
from datetime import timedelta

from _harness import django_with_fresh_db, report, timed

SLOS = 500
DAYS = 28


def main() -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    if connection.vendor != "postgresql":
        print("benchmarks/slos.py needs PostgreSQL (DATABASE_URL).")
        return
    from django.core.cache import cache

    from accounts.models import User
    from catalog.models import Service, Team
    from probes import engine
    from probes import services as probe_services
    from probes.models import Probe
    from probes.signals import results_recorded
    from slos import dashboard, rollups, selectors, services
    from slos.engine import floor_minute
    from slos.models import SLO

    now = floor_minute(timezone.now())
    start = now - timedelta(days=DAYS)
    admin = User.objects.create_superuser("bench", "bench@example.com", "x")
    team = Team.objects.create(name="Bench", slug="bench", manager=admin)
    services_ = Service.objects.bulk_create(
        [Service(name=f"svc {i}", slug=f"svc-{i}", owner_team=team) for i in range(50)]
    )
    SLO.objects.bulk_create(
        [
            SLO(service=services_[i % 50], name=f"slo {i}", kind=SLO.Kind.PUSHED_EVENTS, objective="99.9",
                window=SLO.Window.DAYS_28, owner_team=team, description="bench")
            for i in range(SLOS)
        ]
    )  # fmt: skip
    started = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute("ALTER TABLE slos_sliminute DROP CONSTRAINT slos_sliminute_one_per_minute")
        cur.execute("ALTER TABLE slos_sliminute DROP CONSTRAINT slos_sliminute_counts")
        cur.execute(
            "INSERT INTO slos_sliminute (slo_id, minute, good, total) "
            "SELECT s.id, m, 100 - (random() < 0.0004)::int, 100 FROM slos_slo s "
            "CROSS JOIN generate_series(%s::timestamptz, %s::timestamptz, interval '1 minute') AS m",
            [start, now - timedelta(minutes=1)],
        )
        rows = cur.rowcount
        cur.execute(
            "ALTER TABLE slos_sliminute ADD CONSTRAINT slos_sliminute_one_per_minute UNIQUE (slo_id, minute)"
        )
        cur.execute(
            "ALTER TABLE slos_sliminute ADD CONSTRAINT slos_sliminute_counts CHECK (good >= 0 AND good <= total)"
        )
        cur.execute(
            "INSERT INTO slos_slihour (slo_id, hour, good, total) SELECT slo_id, date_trunc('hour', minute), "
            "sum(good), sum(total) FROM slos_sliminute GROUP BY 1, 2"
        )
        cur.execute("ANALYZE slos_sliminute")
        cur.execute("ANALYZE slos_slihour")
    seed_s = time.perf_counter() - started

    def sweep():
        services.sweep(now=now, sync=False)

    sweep_stats = timed(sweep, repeat=5)
    SLO.objects.filter(pk__in=list(SLO.objects.order_by("pk").values_list("pk", flat=True)[100:])).update(
        is_active=False
    )
    with CaptureQueriesContext(connection) as q100:
        sweep()
    SLO.objects.update(is_active=True)
    with CaptureQueriesContext(connection) as q500:
        sweep()

    class Request:
        user = admin

    panel_stats = timed(lambda: dashboard.panel(Request(), now=now), repeat=10)  # the sweep's snapshot

    def panel_computed():
        cache.delete(selectors.SNAPSHOT_KEY)
        dashboard.panel(Request(), now=now)

    panel_computed_stats = timed(panel_computed, repeat=5)

    # Rolling up probe results as they arrive
    probes = Probe.objects.bulk_create(
        [
            Probe(
                name=f"p{i}", service=services_[i % 50], kind=Probe.Kind.HTTP, url=f"https://example.com/{i}"
            )
            for i in range(1000)
        ]
    )
    probe_slos = SLO.objects.bulk_create(
        [
            SLO(service=services_[i % 50], name=f"probe slo {i}", kind=SLO.Kind.PROBE_AVAILABILITY, objective="99.9",
                owner_team=team, description="bench")
            for i in range(200)
        ]
    )  # fmt: skip
    through = SLO.probes.through
    links = []
    for i, slo in enumerate(probe_slos):
        for p in probes[i * 5 % 1000 : i * 5 % 1000 + 5]:
            links.append(through(slo_id=slo.pk, probe_id=p.pk))
    through.objects.bulk_create(links)

    def record():
        at = timezone.now()
        outcomes = [engine.Outcome(p.pk, "up", at, latency_ms=12.0, status_code=200) for p in probes]
        probe_services.record_outcomes(outcomes=outcomes, lease_token=None)

    with_rollup = timed(record, repeat=7)
    results_recorded.disconnect(dispatch_uid="slos.rollups")
    without = timed(record, repeat=7)
    results_recorded.connect(rollups.on_results_recorded, dispatch_uid="slos.rollups")
    with_again = timed(record, repeat=7)
    rollup_ms = min(with_rollup["median_ms"], with_again["median_ms"])

    report(
        f"SLOs: {SLOS} SLOs x {DAYS} days of per-minute rollups",
        [
            ("minute rows seeded", f"{rows:,} (in {seed_s:.0f} s, generate_series)"),
            ("sweep: every budget and burn rate", f"median {sweep_stats['median_ms']} ms, p95 {sweep_stats['p95_ms']} ms"),
            ("sweep queries at 100 / 500 SLOs", f"{len(q100.captured_queries)} / {len(q500.captured_queries)}"),
            ("dashboard SLO panel (sweep snapshot)", f"median {panel_stats['median_ms']} ms, p95 {panel_stats['p95_ms']} ms"),
            ("dashboard SLO panel (no snapshot)", f"median {panel_computed_stats['median_ms']} ms"),
            ("record 1,000 probe results (no rollup)", f"median {without['median_ms']} ms"),
            ("record 1,000 probe results + rollup", f"median {rollup_ms} ms (200 SLOs, 1,000 probe links)"),
            ("rollup overhead (same run)", f"{(rollup_ms / without['median_ms'] - 1) * 100:+.1f} %"),
        ],
    )  # fmt: skip


if __name__ == "__main__":
    with django_with_fresh_db():
        main()
