"""Demo releases: one approved, one blocked by an automatic check, one high-risk planned, one
shipped last week. Built through the services (the review copies the template; checks run
against the demo's live runbooks, probes, schedules and incidents)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from readiness import services
from readiness.models import Release, ReviewItem

EVIDENCE = "https://docs.example.com/releases/"


def _release(ctx, *, name, version, services_, lead, start, hours, risk, tested_days_ago, summary):
    found = Release.objects.filter(name=name, version=version).first()
    if found:
        return found, False
    tested = timezone.now() - timedelta(days=tested_days_ago) if tested_days_ago is not None else None
    release = services.create_release(
        actor=lead, services=[ctx.services[s] for s in services_], name=name, version=version,
        release_lead=lead, window_start=start, window_end=start + timedelta(hours=hours), risk=risk,
        change_summary=summary,
        rollback_plan="1. Re-deploy the previous image tag.\n2. Run the down migration if one shipped.",
        rollback_minutes=15, rollback_tested_at=tested,
        rollback_evidence_url=f"{EVIDENCE}{name.lower().replace(' ', '-')}-rollback" if tested else "",
    )  # fmt: skip
    return release, True


def _complete_manual_items(release, lead):
    for item in release.review.items.filter(check_key="").order_by("position"):
        services.update_item(
            item=item, actor=lead, state=ReviewItem.State.PASS,
            evidence_url=f"{EVIDENCE}{release.pk}/{item.key}", evidence_note="Reviewed in the release meeting.",
        )  # fmt: skip


def seed(ctx) -> str:
    lead = ctx.users["rita"]
    now = timezone.now()
    day = (now + timedelta(days=2)).replace(hour=10, minute=0, second=0, microsecond=0)
    while day.weekday() >= 4:  # Friday-Sunday: the demo windows fall Monday-Thursday
        day += timedelta(days=1)

    # Approved: every manual item passed with evidence; automatic checks that the demo data does
    # not satisfy are waived with a reason by the owning team's manager (four eyes), then the
    # release lead signs.
    approved, new = _release(
        ctx, name="Billing API", version="2.14.0", services_=["billing-api"], lead=lead, start=day, hours=2,
        risk="low", tested_days_ago=10, summary="Proration for mid-cycle plan changes.",
    )  # fmt: skip
    if new:
        services.start_review(release=approved, actor=lead)
        _complete_manual_items(approved, lead)
        for item in approved.review.items.exclude(check_key="").filter(state=ReviewItem.State.FAIL):
            services.update_item(
                item=item, actor=approved.services.get().owner_team.manager, state=ReviewItem.State.WAIVED,
                waiver_reason="Demo: accepted by the payments manager; follow-up ticket OPS-101.",
            )  # fmt: skip
        services.sign(release=approved, actor=lead)

    # Blocked: rollback never tested, so the automatic check fails and the gate says no-go.
    blocked, new = _release(
        ctx, name="Webhook delivery", version="5.0.0", services_=["webhook-delivery"], lead=lead,
        start=day + timedelta(days=1), hours=3, risk="medium", tested_days_ago=None,
        summary="New retry scheduler with per-endpoint backoff.",
    )  # fmt: skip
    if new:
        services.start_review(release=blocked, actor=lead)
        _complete_manual_items(blocked, lead)

    # Planned, high risk: manager sign-off and a rehearsal will be required.
    _release(
        ctx, name="Checkout", version="3.2.0", services_=["checkout", "billing-api"], lead=lead,
        start=day + timedelta(days=5), hours=4, risk="high", tested_days_ago=30,
        summary="New checkout flow with saved payment methods.",
    )  # fmt: skip

    # Shipped last week.
    past = now - timedelta(days=7)
    shipped, new = _release(
        ctx, name="Custom domains", version="1.9.0", services_=["custom-domains"], lead=lead,
        start=past, hours=2, risk="low", tested_days_ago=20, summary="Wildcard certificate support.",
    )  # fmt: skip
    if new:
        services.start_review(release=shipped, actor=lead)
        _complete_manual_items(shipped, lead)
        for item in shipped.review.items.exclude(check_key="").filter(state=ReviewItem.State.FAIL):
            services.update_item(
                item=item,
                actor=shipped.services.order_by("pk").first().owner_team.manager,
                state=ReviewItem.State.WAIVED,
                waiver_reason="Demo: accepted at the time.",
            )
        services.sign(release=shipped, actor=lead)
        services.mark_shipped(release=shipped, actor=lead)
    return "4 releases (approved, blocked by a check, planned high-risk, shipped)"
