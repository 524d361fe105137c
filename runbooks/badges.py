"""Freshness badge shared by the admin, the pages and the catalog service panel."""

from django.utils import timezone

from opsportal.badges import badge
from runbooks.models import Runbook

TONES = {
    Runbook.Freshness.FRESH: "green",
    Runbook.Freshness.NEVER_TESTED: "yellow",
    Runbook.Freshness.REVIEW_DUE: "orange",
    Runbook.Freshness.STALE: "red",
}


def freshness_title(runbook: Runbook, now=None) -> str:
    now = now or timezone.now()
    due = timezone.localtime(runbook.review_due_at).strftime("%Y-%m-%d")
    tested = (
        "never tested"
        if runbook.last_tested_at is None
        else f"last tested {timezone.localtime(runbook.last_tested_at):%Y-%m-%d}"
    )
    verb = "was due" if runbook.review_due_at <= now else "due"
    return f"Review {verb} {due}; {tested}"


def freshness_badge(runbook: Runbook, now=None) -> str:
    now = now or timezone.now()
    state = runbook.freshness_at(now)
    return badge(state.label, TONES[state], title=freshness_title(runbook, now))
