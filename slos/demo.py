"""Demo SLOs with 28 days of history (synthetic rollups, one row per 5 minutes):

- api-gateway "Portal availability" (probe availability of Portal /healthz, 99.9 %): healthy,
  one 20-minute outage ten days ago; new checks of the demo probe add to it as they run.
- checkout "Checkout success rate" (events pushed by API, 99.5 %): two bad days spent most of
  the budget (about 8 % left) and it has been burning at 2x for the last 3 days, so the demo's
  first sweep opens a ticket-level burn alert and the readiness gate says no-go for checkout.
- billing-api "Charge API success" (events pushed by API, 99.9 % over 30 days): healthy.
"""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from slos import rollups, services
from slos.engine import floor_minute
from slos.models import SLO

STEP = timedelta(minutes=5)


def _history(
    now, *, per_step: int, bad_rate: float, incidents: list[tuple[timedelta, timedelta, float]], seed: int
):
    rng = random.Random(seed)  # noqa: S311 - demo data, not secrets
    end = floor_minute(now).replace(minute=floor_minute(now).minute // 5 * 5)
    start = end - timedelta(days=28)
    out = {}
    m = start
    while m < end:
        rate = bad_rate
        for ago, length, incident_rate in incidents:
            if end - ago <= m < end - ago + length:
                rate = incident_rate
        total = per_step + rng.randint(-per_step // 10, per_step // 10)
        bad = sum(1 for _ in range(total) if rng.random() < rate) if rate < 0.05 else round(total * rate)
        out[m] = (total - bad, total)
        m += STEP
    return start, end, out


def _slo(ctx, service, name, **fields):
    existing = SLO.objects.filter(service=service, name=name).first()
    return services.save_slo(slo=existing, actor=ctx.users.get("admin"), service=service, name=name, **fields)


def seed(ctx) -> str:
    now = timezone.now()
    probes = getattr(ctx, "probes", {})
    portal = probes.get("Portal /healthz")
    slos = []
    if portal is not None:
        slo = _slo(
            ctx, ctx.services["api-gateway"], "Portal availability", kind=SLO.Kind.PROBE_AVAILABILITY,
            objective=Decimal("99.9"), window=SLO.Window.DAYS_28, owner_team=ctx.teams["platform"],
            description="A check of the portal's /healthz answers 200 with status ok within the timeout.",
            probes=[portal], open_incident=True, incident_severity=2,
        )  # fmt: skip
        start, end, minutes = _history(
            now,
            per_step=10,
            bad_rate=0.0,
            incidents=[(timedelta(days=10), timedelta(minutes=20), 1.0)],
            seed=1,
        )
        rollups.replace_minutes(slo.pk, start, end, minutes)
        slos.append(slo)
    checkout = _slo(
        ctx, ctx.services["checkout"], "Checkout success rate", kind=SLO.Kind.PUSHED_EVENTS,
        objective=Decimal("99.5"), window=SLO.Window.DAYS_28, owner_team=ctx.teams["web"],
        description="A checkout attempt that ends in a confirmed purchase or a declined card (not a 5xx or timeout).",
    )  # fmt: skip
    start, end, minutes = _history(
        now, per_step=400, bad_rate=0.001,
        incidents=[(timedelta(days=19), timedelta(hours=9), 0.15), (timedelta(days=6), timedelta(hours=3), 0.2),
                   (timedelta(days=3), timedelta(days=3), 0.01)],
        seed=2,
    )  # fmt: skip
    rollups.replace_minutes(checkout.pk, start, end, minutes)
    slos.append(checkout)
    billing = _slo(
        ctx, ctx.services["billing-api"], "Charge API success", kind=SLO.Kind.PUSHED_EVENTS,
        objective=Decimal("99.9"), window=SLO.Window.DAYS_30, owner_team=ctx.teams["payments"],
        description="A charge request answered without a 5xx within 2 seconds.",
    )  # fmt: skip
    start, end, minutes = _history(now, per_step=150, bad_rate=0.0003, incidents=[], seed=3)
    rollups.replace_minutes(billing.pk, start, end, minutes)
    slos.append(billing)
    counts = services.sweep(now=now, sync=False)
    return f"{len(slos)} SLOs with 28 days of history, {counts['opened']} burn alert(s) opened"
