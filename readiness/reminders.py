"""Reminder rules for readiness (run by the reminders sweep).

- ``readiness.signoff_due``: a release whose review is not fully signed off
  READINESS_SIGNOFF_REMINDER_HOURS (24 by default) before its deploy window -> the release
  lead; repeats every interval (6 h by default) until signed, cancelled or the window starts.

One indexed query per sweep (open releases whose window starts within the lead time, partial
index ``readiness_release_open_window``), plus four per due release for its missing sign-offs
(team names, items, services, signatures; bounded: at most 500 releases).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from opsportal.links import absolute_url
from readiness import conf, selectors
from readiness.models import Release
from reminders.registry import EffectiveConfig, Reminder, Rule, latest_due_point


class SignoffDueRule(Rule):
    def due(self, *, now: datetime, config: EffectiveConfig):
        lead = conf.signoff_reminder_lead()
        releases = (
            Release.objects.filter(
                status__in=(Release.Status.PLANNED, Release.Status.IN_REVIEW),
                window_start__gt=now,
                window_start__lte=now + lead,
            )
            .select_related("release_lead", "review")
            .order_by("window_start")[:500]
        )
        for release in releases:
            person = release.release_lead
            if not person.is_active:
                continue
            point = latest_due_point(release.window_start - lead, config.interval, now)
            if point is None:
                continue
            url = absolute_url(release.get_absolute_url())
            review = getattr(release, "review", None) if release.status == Release.Status.IN_REVIEW else None
            missing = []
            if review is not None:
                names = selectors.team_names(release)
                content = selectors.signed_content(release, review.items.all())
                missing = [selectors.slot_label(s, names) for s in selectors.missing_slots(review, content)]
            yield Reminder(
                object_key=f"readiness.release:{release.pk}",
                due_point=point,
                recipients=[person],
                template="reminders/generic",
                context={
                    "title": f"Readiness review not signed off: {release}",
                    "url": url,
                    "fields": [
                        ["Release", str(release)],
                        ["Deploy window", f"{release.window_start:%Y-%m-%d %H:%M} UTC"],
                        ["Status", release.get_status_display()],
                        ["Missing sign-off", ", ".join(missing) or "review not started"],
                    ],
                    "actions": [["Open the review", url]],
                },
                related=release,
            )


RULES = [
    SignoffDueRule(
        key="readiness.signoff_due",
        title="Readiness review not signed off",
        description="Tells the release lead when a release's readiness review is not signed off "
        "READINESS_SIGNOFF_REMINDER_HOURS (24) before its deploy window, every interval until it is.",
        default_interval=timedelta(hours=6),
    ),
]
