"""Demo deployments: ten weeks of pipeline reports for six services (a few failed or rolled
back, Fridays no worse than Tuesdays, the services whose rollback was never exercised worse),
plus a webhook-delivery deploy 14 minutes before the open "webhook delays" incident began,
left for the incident room to confirm or deny. Built through ``deployments.services``;
idempotent through the pipeline keys."""

from __future__ import annotations

import random
from datetime import timedelta

from django.utils import timezone

from deployments import services
from deployments.models import Deployment

SERVICES = {
    # slug: (deploys per week, chance a deploy fails or is rolled back)
    "checkout": (3, 0.12),
    "billing-api": (2, 0.08),
    "webhook-delivery": (2, 0.2),
    "web-app": (4, 0.06),
    "api-gateway": (2, 0.1),
    "search": (1, 0.15),
}
WEEKS = 10  # 140 deploys: the API lists them on one page of 200 (the role matrix reads every row)


def seed(ctx) -> str:
    actor = ctx.users["rita"]
    rng = random.Random(20260301)  # noqa: S311 - demo data, same history every run
    now = timezone.now().replace(second=0, microsecond=0)
    created = 0
    for slug, (per_week, fail_chance) in SERVICES.items():
        service = ctx.services[slug]
        for week in range(WEEKS, 0, -1):
            for n in range(per_week):
                # every draw happens whether or not the deploy exists (the same history on a re-run)
                day = now - timedelta(weeks=week) + timedelta(days=rng.randrange(7))
                started = day.replace(hour=rng.choice([9, 10, 11, 13, 14, 15, 16]), minute=rng.randrange(60))
                minor = WEEKS - week
                roll = rng.random()
                sha, run, who = (
                    rng.getrandbits(160),
                    rng.randrange(10**9),
                    rng.choice(["merge to main", "maya", "ravi"]),
                )
                commit_hours, minutes = rng.randrange(2, 96), rng.randrange(4, 40)
                if started >= now - timedelta(hours=2):
                    continue
                outcome = (
                    Deployment.Status.SUCCEEDED
                    if roll >= fail_chance
                    else rng.choice([Deployment.Status.FAILED, Deployment.Status.ROLLED_BACK])
                )
                deployment, new = services.report_start(
                    actor=actor, client_key=f"demo-{slug}-{week}-{n}", services=[service],
                    version=f"{minor // 4 + 1}.{minor}.{n}", started_at=started,
                    commit_sha=f"{sha:040x}", commit_at=started - timedelta(hours=commit_hours),
                    pipeline_url=f"https://github.com/example/{slug}/actions/runs/{run}", triggered_by=who, now=now,
                )  # fmt: skip
                if new:
                    created += 1
                    services.report_finish(
                        actor=actor, deployment=deployment, outcome=outcome,
                        finished_at=started + timedelta(minutes=minutes), now=now,
                    )  # fmt: skip
    incident = getattr(ctx, "incidents", {}).get("webhook-delays")
    if incident is not None:
        started = incident.started_at - timedelta(minutes=22)
        deployment, new = services.report_start(
            actor=actor, client_key="demo-webhook-delivery-suspect", services=[ctx.services["webhook-delivery"]],
            version="5.0.0-rc.2", started_at=started, commit_sha="9f2c" * 10,
            commit_at=started - timedelta(hours=5), triggered_by="merge to main", now=now,
        )  # fmt: skip
        if new:
            created += 1
            services.report_finish(
                actor=actor, deployment=deployment, outcome=Deployment.Status.SUCCEEDED,
                finished_at=incident.started_at - timedelta(minutes=14), now=now,
            )  # fmt: skip
    return f"{Deployment.objects.count()} deployments ({created} new)"
