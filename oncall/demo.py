"""Demo on-call: each team gets a weekly primary rotation in its manager's zone, a secondary in
another zone, a business-hours layer for web, a few overrides and a default escalation policy."""

from datetime import date, time, timedelta

from django.utils import timezone

from oncall import services
from oncall.models import CalendarFeed, EscalationPolicy, Override, Schedule
from opsportal.timeutil import localize

DEMO_REASON = "[demo]"
# team slug: (primary zone, secondary zone)
ZONES = {
    "platform": ("Europe/Berlin", "Asia/Kolkata"),
    "payments": ("America/New_York", "Europe/Berlin"),
    "integrations": ("Europe/Berlin", "America/New_York"),
    "edge": ("Australia/Sydney", "Asia/Kolkata"),
    "web": ("America/New_York", "Australia/Sydney"),
}
FIRST_MONDAY = date(2026, 1, 5)


def seed(ctx) -> str:
    admin = ctx.users["admin"]
    ctx.schedules, ctx.policies = {}, {}
    overrides = 0
    for slug, team in ctx.teams.items():
        primary_zone, secondary_zone = ZONES.get(slug, ("UTC", "UTC"))
        people = [u for u in team.members.order_by("username") if u != team.manager] or [team.manager]
        primary = services.save_schedule_definition(
            schedule=Schedule.objects.filter(team=team, name=f"{team.name} primary").first(),
            team=team,
            name=f"{team.name} primary",
            time_zone=primary_zone,
            description="Weekly rotation, handoff Monday 09:00 local.",
            layers=[
                {"name": "Weekly", "position": 1, "rotation_length": 1, "rotation_unit": "weeks",
                 "start_date": FIRST_MONDAY, "handoff_time": time(9), "participants": people},
            ]
            + (
                [{"name": "Business hours (manager)", "position": 2, "rotation_length": 1, "rotation_unit": "weeks",
                  "start_date": FIRST_MONDAY, "handoff_time": time(9), "participants": [team.manager],
                  "restrictions": [{"weekdays": [0, 1, 2, 3, 4], "start_time": time(9), "end_time": time(12)}]}]
                if slug == "web" else []
            ),
            actor=admin,
        )  # fmt: skip
        secondary = services.save_schedule_definition(
            schedule=Schedule.objects.filter(team=team, name=f"{team.name} secondary").first(),
            team=team,
            name=f"{team.name} secondary",
            time_zone=secondary_zone,
            description="Backup rotation in another region, handoff Wednesday 10:00 local.",
            layers=[
                {"name": "Weekly backup", "position": 1, "rotation_length": 1, "rotation_unit": "weeks",
                 "start_date": FIRST_MONDAY + timedelta(days=2), "handoff_time": time(10),
                 "participants": list(reversed(people))},
            ],
            actor=admin,
        )  # fmt: skip
        ctx.schedules[slug] = {"primary": primary, "secondary": secondary}

        # A few overrides around today: someone takes tonight, a swap next week.
        Override.objects.filter(schedule__in=[primary, secondary], reason__startswith=DEMO_REASON).delete()
        today = timezone.now().astimezone(timezone.get_current_timezone()).date()
        tonight = localize(today, time(18), primary_zone)
        services.create_override(
            schedule=primary, user=people[-1], start=tonight, end=tonight + timedelta(hours=15),
            reason=f"{DEMO_REASON} I'll take tonight", actor=admin,
        )  # fmt: skip
        overrides += 1
        if len(people) > 1:
            next_week = localize(today + timedelta(days=7), time(9), primary_zone)
            shifts = services.selectors.final_shifts(primary, next_week, next_week + timedelta(days=1))
            ids = {p.pk for p in people}
            covered = next((s for s in shifts if not s.is_override and s.user in ids), None)
            if covered is not None:
                covered_user = next(p for p in people if p.pk == covered.user)
                covering = next(p for p in people if p.pk != covered.user)
                services.swap_shift(
                    schedule=primary, covered=covered_user, covering=covering, start=covered.start,
                    end=covered.start + timedelta(hours=8), reason=f"{DEMO_REASON} school run", actor=admin,
                )  # fmt: skip
                overrides += 1

        policy = services.save_policy(
            policy=EscalationPolicy.objects.filter(team=team, name=f"{team.name} default").first(),
            team=team,
            name=f"{team.name} default",
            description="Primary, then secondary (current and next), then the manager; twice.",
            repeat=1,
            is_team_default=True,
            levels=[
                {"position": 1, "delay_minutes": 5, "schedules": [primary]},
                {"position": 2, "delay_minutes": 10, "schedules": [secondary], "include_next_on_call": True},
                {"position": 3, "delay_minutes": 15, "users": [team.manager]},
            ],
            actor=admin,
        )
        ctx.policies[slug] = policy
        CalendarFeed.objects.get_or_create(schedule=primary, revoked_at=None, defaults={"created_by": admin})
    pages = _seed_pages(ctx)
    return (
        f"{2 * len(ctx.teams)} schedules, {overrides} overrides, {len(ctx.policies)} escalation policies, "
        f"{pages} pages"
    )


# Pages people raised by hand, so the Pages list and the acknowledge page have realistic rows
# (an open one, an acknowledged one, a resolved one). Stable dedup keys keep re-seeding idempotent.
DEMO_PAGES = [
    ("demo-page-webhooks", "webhook-delivery", "Webhook delivery retries piling up for EU customers (queue depth 48k and rising)",
     "Retry queue for webhook-delivery-eu grew from 2k to 48k in 20 minutes; p95 delivery latency 14 min.", None),
    ("demo-page-tls", "tls-manager", "TLS renewals failing for custom domains behind Cloudflare proxy",
     "ACME HTTP-01 challenges return 403 for 37 domains; first expiry in 9 days.", "ack"),
    ("demo-page-search", "search", "Search index lagging behind by 2 hours",
     "Indexer stuck on a poison message; skipped and reindexed.", "resolve"),
]  # fmt: skip


def _seed_pages(ctx) -> int:
    from oncall.models import Page

    for key, service_slug, title, summary, then in DEMO_PAGES:
        if Page.objects.filter(dedup_key=key).exists():
            continue
        page = services.open_page(
            title=title, summary=summary, url="", service=ctx.services[service_slug], dedup_key=key
        )
        responder = ctx.users.get("ravi") or ctx.users["admin"]
        if then in ("ack", "resolve"):
            services.acknowledge_page(page=page, user=responder, via="web")
        if then == "resolve":
            services.resolve_page(page=page, user=responder, reason="Poison message skipped; index rebuilt.")
    return len(DEMO_PAGES)
