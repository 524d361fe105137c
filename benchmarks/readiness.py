"""Readiness: the gate a pipeline calls stays fast as a release touches more services.

Prints the median / p95 time and the query count of ``selectors.gate`` (every automatic
check evaluated live: runbooks, probes, on-call coverage over the window + 24 h, incidents,
dashboards, rehearsal) for a release changing 1 service and one changing 20, and their ratio,
measured in the same run. Query counts should not grow with the number of services.
"""

from datetime import date, timedelta

from _harness import django_with_fresh_db, report, timed


def main() -> None:
    with django_with_fresh_db():
        from django.db import connection
        from django.test.utils import CaptureQueriesContext
        from django.utils import timezone

        from accounts import roles
        from readiness import selectors, services
        from tests.factories import ServiceFactory, ServiceLinkFactory, TeamFactory, UserFactory
        from tests.oncall.factories import LayerFactory, ScheduleFactory
        from tests.probes.factories import ProbeFactory
        from tests.runbooks.factories import RunbookFactory

        lead = UserFactory(username="bench-lead", is_staff=True, roles=[roles.RELEASE_LEADS])
        now = timezone.now()

        def release_with(n: int, tag: str):
            svcs = []
            for _ in range(n):
                team = TeamFactory(manager=UserFactory())
                LayerFactory(
                    schedule=ScheduleFactory(team=team), people=[UserFactory(), UserFactory()],
                    start_date=date(2026, 1, 5),
                )  # fmt: skip
                s = ServiceFactory(owner_team=team)
                rb = RunbookFactory(owner_team=team, services=[s], last_reviewed_at=now - timedelta(days=3))
                ProbeFactory(service=s, runbook=rb, state="up")
                ServiceLinkFactory(service=s)
                svcs.append(s)
            r = services.create_release(
                actor=lead, services=svcs, name=f"bench-{tag}", version="1", release_lead=lead,
                window_start=now - timedelta(hours=1), window_end=now + timedelta(hours=2), risk="high",
                rollback_plan="redeploy", rollback_tested_at=now - timedelta(days=2),
                rollback_evidence_url="https://docs.example.com/rb",
            )  # fmt: skip
            services.start_review(release=r, actor=lead)
            return r

        small, big = release_with(1, "small"), release_with(20, "big")
        rows = []
        figures = {}
        for label, release in (("1 service", small), ("20 services", big)):
            with CaptureQueriesContext(connection) as q:
                selectors.gate(release)
            figures[label] = timed(lambda release=release: selectors.gate(release))
            rows.append((f"gate, {label}", f"{figures[label]} ({len(q.captured_queries)} queries)"))
        ratio = figures["20 services"]["median_ms"] / max(figures["1 service"]["median_ms"], 0.01)
        rows.append(("median ratio 20 : 1", f"{ratio:.2f}x"))
        report(f"Readiness gate ({connection.vendor})", rows)


if __name__ == "__main__":
    main()
