"""Reminder rule for runbooks (run by the reminders sweep).

``runbooks.review_due``: one weekly digest per owning team listing its runbooks whose review
is due or that are stale (a whole review interval overdue), sent to the team's manager and
the team mailing list - one message a week, not one per runbook. The due point is the
latest weekly point (Mondays 09:00 UTC by default), so a sweep that missed a week sends the
current digest once, not a backlog.

One query per sweep (``selectors.needing_review``: indexed ``review_due_at <= now``).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

from opsportal.links import absolute_url
from reminders.registry import EffectiveConfig, Reminder, Rule, latest_due_point
from runbooks import selectors

EPOCH = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # a Monday, 09:00 UTC
MAX_LISTED = 50


class RunbookReviewDigestRule(Rule):
    def due(self, *, now: datetime, config: EffectiveConfig):
        point = latest_due_point(EPOCH, config.interval or timedelta(days=7), now)
        by_team = defaultdict(list)
        for rb in selectors.needing_review(now=now, limit=None).select_related("owner_team__manager"):
            by_team[rb.owner_team].append(rb)
        for team, runbooks in by_team.items():
            recipients = [team.manager] if team.manager and team.manager.is_active else []
            if team.email:
                recipients.append(team.email)
            if not recipients:
                continue
            stale = sum(1 for rb in runbooks if rb.stale_at <= now)
            lines = [
                [
                    "Stale" if rb.stale_at <= now else "Review due",
                    f"{rb.title} - due {rb.review_due_at:%Y-%m-%d} ({(now - rb.review_due_at).days} days ago), "
                    f"last tested {rb.last_tested_at:%Y-%m-%d}" if rb.last_tested_at else
                    f"{rb.title} - due {rb.review_due_at:%Y-%m-%d} ({(now - rb.review_due_at).days} days ago), never tested",
                ]
                for rb in runbooks[:MAX_LISTED]
            ]  # fmt: skip
            if len(runbooks) > MAX_LISTED:
                lines.append(["More", f"{len(runbooks) - MAX_LISTED} more runbooks"])
            url = absolute_url(f"/admin/runbooks/runbook/?owner_team__id__exact={team.pk}")
            yield Reminder(
                object_key=f"runbooks.team:{team.pk}",
                due_point=point,
                recipients=recipients,
                template="runbooks/review_digest",
                kind="digest",
                context={
                    "title": f"{team.name}: {len(runbooks)} runbook(s) need review ({stale} stale)",
                    "url": url,
                    "fields": lines,
                    "stale_count": stale,
                    "actions": [["Review them", url]],
                },
                related=team,
            )


RULES = [
    RunbookReviewDigestRule(
        key="runbooks.review_due",
        title="Runbook review due / stale",
        description="A weekly digest per owning team (manager and team mailing list) of its runbooks "
        "whose review is due or that are stale.",
        default_interval=timedelta(days=7),
    ),
]
