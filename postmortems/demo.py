"""Demo postmortems: past incidents get published reviews with a realistic mix of done, open,
in-progress, declined and overdue action items. Idempotent: an incident that already has a
postmortem is left as it is."""

from __future__ import annotations

from datetime import date, timedelta

from django.utils import timezone

from accounts.permissions import is_manager
from incidents import services as incident_services
from incidents.models import Incident
from postmortems import services
from postmortems.models import REVIEW_CHECKLIST_KEYS, ActionItem, Holiday, Postmortem

STORIES = [
    {
        "trigger": "A configuration deploy lowered the database connection pool from 200 to 20 per node.",
        "root_cause": "The connection pool was exhausted: retries without backoff from the job workers "
        "held connections while waiting, so API requests queued until they timed out. The pool size "
        "was a plain value in a shared config file with no review rule and no load test.",
        "resolution": "Rolled back the configuration and restarted the workers to drop queued retries.",
        "went_well": "The on-call engineer recognised the pattern from the runbook within minutes.",
        "went_poorly": "The saturation alert existed but routed to a muted channel.",
        "got_lucky": "The change went out on a quiet Sunday morning.",
        "lessons_learned": "Capacity settings need the same review and canary as code.",
        "items": [
            ("Alert on connection pool saturation above 80%", "detect", "p1", "done", -20),
            ("Exponential backoff with jitter for job worker retries", "prevent", "p2", "in_progress", 10),
            ("Require review for capacity settings in the shared config", "process", "p2", "open", -3),
            ("Load test the worker fleet against the pool limit", "prevent", "p3", "wont_do", 30),
        ],
    },
    {
        "trigger": "A certificate renewal job failed silently for a week before the certificates expired.",
        "root_cause": "The TLS manager's renewal worker lost its DNS API credentials after a key rotation; "
        "failures were logged at debug level and the expiry probe only checked the apex domain.",
        "resolution": "Re-issued the certificates manually and restored the rotated credentials.",
        "went_well": "Support's reports were linked to the incident immediately.",
        "went_poorly": "Nobody owned the renewal worker's alerts after a team reorganisation.",
        "got_lucky": "Most customers' browsers still had cached sessions.",
        "lessons_learned": "Every scheduled job needs a heartbeat check with an owner.",
        "items": [
            ("Heartbeat check on the certificate renewal job", "detect", "p1", "done", -12),
            (
                "Probe certificate expiry for every custom domain, not only the apex",
                "detect",
                "p1",
                "open",
                -5,
            ),
            ("Rotate DNS API credentials through the secret manager", "prevent", "p2", "open", 12),
            ("Runbook: manual certificate re-issue", "mitigate", "p3", "done", -8),
        ],
    },
    {
        "trigger": "A Stripe webhook payload change added a nullable field our parser treated as required.",
        "root_cause": "Webhook parsing rejected the new events and the dead-letter queue had no alert, "
        "so charges were not recorded for two hours; the contract tests pinned an old payload sample.",
        "resolution": "Made the field optional, replayed the dead-letter queue and reconciled charges.",
        "went_well": "Replay from the dead-letter queue restored every event without duplicates.",
        "went_poorly": "Detection came from a customer, not from monitoring.",
        "got_lucky": "It happened before the monthly invoicing run.",
        "lessons_learned": "Third-party payload changes need tolerant parsing and dead-letter alerts.",
        "items": [
            ("Alert when the billing dead-letter queue is not empty", "detect", "p1", "done", -15),
            ("Refresh Stripe contract test samples monthly", "process", "p3", "open", 20),
            ("Tolerant parsing for unknown and nullable webhook fields", "prevent", "p2", "in_progress", -2),
        ],
    },
]


def _past_incidents(ctx) -> list[Incident]:
    """Resolved/closed incidents whose peak severity requires a postmortem (``ctx.incidents`` from
    incidents/demo.py: demo key -> Incident; all past incidents when it is absent)."""
    found = getattr(ctx, "incidents", None)
    if isinstance(found, dict):
        found = list(found.values())
    pks = [i.pk for i in (found or []) if isinstance(i, Incident)]
    qs = Incident.objects.exclude(status__in=Incident.OPEN_STATUSES).filter(
        peak_severity__postmortem_required=True, resolved_at__isnull=False
    )
    if pks:
        qs = qs.filter(pk__in=pks)
    return list(
        qs.select_related("severity", "owning_team", "owning_team__manager", "commander").order_by(
            "resolved_at", "id"
        )
    )


def _reviewer_for(incident: Incident, owner, users: dict):
    team = incident.owning_team
    if team and team.manager and team.manager.pk != owner.pk and is_manager(team.manager):
        return team.manager
    for name in ("maya", "omar", "lena", "noah", "grace"):
        user = users.get(name)
        if user is not None and user.pk != owner.pk and is_manager(user):
            return user
    return None


def seed(ctx) -> str:
    users = getattr(ctx, "users", {}) or {}
    now = timezone.now()
    today = now.date()
    for year in (today.year, today.year + 1):
        Holiday.objects.get_or_create(day=date(year, 12, 25), defaults={"name": "Christmas Day"})
        Holiday.objects.get_or_create(day=date(year, 1, 1), defaults={"name": "New Year's Day"})
    created = published = items = 0
    past = [i for i in _past_incidents(ctx) if not Postmortem.objects.filter(incident=i).exists()]
    with services.quiet(), incident_services.quiet():
        for n, incident in enumerate(past):
            owner = incident.commander or (incident.owning_team.manager if incident.owning_team else None)
            if owner is None or not owner.is_active:
                continue
            reviewer = _reviewer_for(incident, owner, users)
            if reviewer is None:
                continue
            story = STORIES[n % len(STORIES)]
            pm = services.start_postmortem(incident=incident, actor=owner, reviewer=reviewer)
            created += 1
            services.update_postmortem(
                postmortem=pm,
                actor=owner,
                summary=pm.summary or f"{incident.title}: what happened, why, and what we changed.",
                external_message=pm.external_message
                or "We are sorry for the disruption; the issue is resolved.",
                **{k: v for k, v in story.items() if k != "items"},
            )
            resolved = incident.resolved_at
            publish_at = resolved + timedelta(days=3, hours=2)
            members = (
                list(incident.owning_team.members.filter(is_active=True)) if incident.owning_team else []
            )
            people = members or [owner]
            for k, (title, kind, priority, status, due_in) in enumerate(story["items"]):
                # Old incidents' items were due long ago; recent ones' are still ahead.
                due = min(publish_at.date() + timedelta(days=30), today) + timedelta(days=due_in)
                item = services.add_action_item(
                    postmortem=pm, actor=owner, title=title, owner=people[(n + k) % len(people)], kind=kind,
                    priority=priority, due_date=due, tracker_url=f"https://tracker.example.com/OPS-{100 + 10 * n + k}",
                )  # fmt: skip
                items += 1
                if status != ActionItem.Status.OPEN:
                    services.set_action_item_status(
                        item=item,
                        actor=owner,
                        status=status,
                        reason=WONT_DO_REASON if status == ActionItem.Status.WONT_DO else "",
                        at=min(publish_at + timedelta(days=7 + k), now),
                    )
            if publish_at > now - timedelta(days=1):
                continue  # the newest postmortems are still being written: drafts, one due soon
            services.submit_for_review(postmortem=pm, actor=owner, at=resolved + timedelta(days=2))
            if n == len(past) - 2:
                continue  # one waits for its reviewer (and is overdue): the reminders chase it
            services.approve(postmortem=pm, actor=reviewer, checklist=REVIEW_CHECKLIST_KEYS, at=publish_at)
            services.publish(postmortem=pm, actor=reviewer, at=publish_at)
            published += 1
            close_at = publish_at + timedelta(hours=1)
            if incident.status == Incident.Status.RESOLVED and close_at < now:
                incident_services.close(incident=incident, actor=reviewer, at=close_at)
    ctx.postmortems = {pm.incident_id: pm for pm in Postmortem.objects.select_related("incident")}
    if not created:
        return ""
    return f"{created} postmortems ({published} published), {items} action items"


WONT_DO_REASON = "Superseded by the backoff change; a dedicated load test adds little."
