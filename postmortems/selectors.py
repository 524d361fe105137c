"""Reads over postmortems and action items: lists, reminder hooks, archive search, Markdown.

The reminder hooks (``postmortems_overdue``, ``postmortems_due_soon``,
``action_items_due_soon``, ``action_items_overdue``) each run one query served by a partial
index over unfinished rows (see the model indexes), however many finished rows pile up. They
ignore the incident's status on purpose: remediation is chased after the incident is closed.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from functools import reduce
from operator import and_

from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector
from django.db import connection
from django.db.models import Count, Exists, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from incidents.models import Incident
from opsportal import timeutil
from opsportal.db import count_subquery
from postmortems.models import SEARCH_CONFIG, ActionItem, Postmortem


# ---------------------------------------------------------------------------------------
# Lists
# ---------------------------------------------------------------------------------------
def with_progress(queryset: QuerySet[Postmortem]) -> QuerySet[Postmortem]:
    """Adds ``items_total``, ``items_done`` and ``items_wont_do`` as correlated subqueries
    (one query for any number of rows; joins with Count() would multiply each other)."""
    return queryset.annotate(
        items_total=count_subquery(ActionItem, "postmortem"),
        items_done=_status_count(ActionItem.Status.DONE),
        items_wont_do=_status_count(ActionItem.Status.WONT_DO),
    )


def _status_count(status: str):
    return Coalesce(
        Subquery(
            ActionItem.objects.filter(postmortem=OuterRef("pk"), status=status)
            .order_by()
            .values("postmortem")
            .annotate(n=Count("pk"))
            .values("n"),
            output_field=IntegerField(),
        ),
        0,
    )


def progress_percent(total: int, done: int, wont_do: int) -> int | None:
    """Done items as a share of the items that are to be done (declined ones do not count
    either way); ``None`` when there are no action items at all."""
    if not total:
        return None
    relevant = total - wont_do
    if relevant <= 0:
        return 100
    return round(100 * done / relevant)


def progress(postmortem: Postmortem) -> int | None:
    if hasattr(postmortem, "items_total"):
        return progress_percent(postmortem.items_total, postmortem.items_done, postmortem.items_wont_do)
    counts = {s: 0 for s in ActionItem.Status.values}
    for status in postmortem.action_items.values_list("status", flat=True):
        counts[status] += 1
    return progress_percent(sum(counts.values()), counts["done"], counts["wont_do"])


def postmortem_list() -> QuerySet[Postmortem]:
    return with_progress(
        Postmortem.objects.select_related(
            "incident", "incident__severity", "owner", "team", "reviewer", "approved_by", "published_by"
        )
    )


def remediation_list() -> QuerySet[ActionItem]:
    """Action items across all postmortems with everything a row shows, in one query."""
    return ActionItem.objects.select_related(
        "owner", "team", "postmortem", "postmortem__incident", "postmortem__incident__severity"
    )


def for_user(queryset: QuerySet[ActionItem], user) -> QuerySet[ActionItem]:
    return queryset.filter(owner=user)


def for_users_teams(queryset: QuerySet[ActionItem], user) -> QuerySet[ActionItem]:
    """Items of the teams ``user`` belongs to or manages."""
    return queryset.filter(Q(team__members=user) | Q(team__manager=user)).distinct()


# ---------------------------------------------------------------------------------------
# Reminder hooks
# ---------------------------------------------------------------------------------------
def postmortems_overdue(now: datetime) -> QuerySet[Postmortem]:
    """Unpublished postmortems past their due time (partial index postmortems_unpublished_due)."""
    return (
        Postmortem.objects.unpublished()
        .filter(due_at__lt=now)
        .select_related("incident", "incident__severity", "owner", "team", "team__manager")
        .order_by("due_at", "id")
    )


def postmortems_due_soon(now: datetime, tz, holidays=()) -> QuerySet[Postmortem]:
    """Unpublished postmortems due within one business day of ``now`` (not yet overdue)."""
    horizon = timeutil.add_business_days(now, 1, tz, holidays)
    return (
        Postmortem.objects.unpublished()
        .filter(due_at__gte=now, due_at__lte=horizon)
        .select_related("incident", "incident__severity", "owner", "team", "team__manager")
        .order_by("due_at", "id")
    )


def action_items_overdue(today: date) -> QuerySet[ActionItem]:
    """Unfinished items whose due date has passed (partial index postmortems_ai_open_due)."""
    return remediation_list().overdue(today).order_by("due_date", "id")


def action_items_due_soon(today: date, days: int = 2) -> QuerySet[ActionItem]:
    """Unfinished items due today or within ``days`` days (not yet overdue)."""
    return (
        remediation_list()
        .unfinished()
        .filter(due_date__gte=today, due_date__lte=today + timedelta(days=days))
        .order_by("due_date", "id")
    )


def action_items_to_chase(today: date, days: int = 2) -> QuerySet[ActionItem]:
    """Overdue or due within ``days`` days: what an owner's daily digest lists."""
    return (
        remediation_list()
        .unfinished()
        .filter(due_date__lte=today + timedelta(days=days))
        .order_by("due_date", "id")
    )


# ---------------------------------------------------------------------------------------
# Archive search
# ---------------------------------------------------------------------------------------
WORD_RE = re.compile(r"\w+", re.UNICODE)


def search_vector():
    # The exact expression of the postmortems_search_gin index, so PostgreSQL uses it.
    return SearchVector("search_text", config=SEARCH_CONFIG)


def search_archive(text: str, *, base: QuerySet[Incident] | None = None) -> QuerySet[Incident]:
    """Past (resolved or closed) incidents matching ``text`` in their title/summary or in any
    section of their postmortem, best matches first.

    PostgreSQL: full-text search (stemmed: "exhausting" finds "exhausted") over the postmortem's
    indexed search text (which carries the incident's title and summary) plus the incident's own
    title and summary for incidents without a postmortem. Other databases: every word must
    appear (case-insensitive substring) in the same places.
    """
    words = WORD_RE.findall(text or "")
    base = base if base is not None else Incident.objects.exclude(status__in=Incident.OPEN_STATUSES)
    if not words:
        return base.none()
    if connection.vendor == "postgresql":
        query = SearchQuery(" ".join(words), config=SEARCH_CONFIG, search_type="plain")
        matching_pm = Postmortem.objects.annotate(v=search_vector()).filter(
            v=query, incident_id=OuterRef("pk")
        )
        incident_vector = SearchVector("title", "summary", config=SEARCH_CONFIG)
        return (
            base.annotate(pm_hit=Exists(matching_pm), own=incident_vector)
            .filter(Q(pm_hit=True) | Q(own=query))
            .annotate(rank=SearchRank(incident_vector, query))
            .order_by("-rank", "-detected_at", "-id")
        )
    per_word = [
        Q(title__icontains=w) | Q(summary__icontains=w) | Q(postmortem__search_text__icontains=w)
        for w in words
    ]
    return (
        base.filter(reduce(and_, per_word))
        .annotate(rank=Value(0, IntegerField()))
        .order_by("-detected_at", "-id")
    )


def search_postmortems(text: str, queryset: QuerySet[Postmortem] | None = None) -> QuerySet[Postmortem]:
    """Postmortems whose sections (or incident title/summary) match ``text`` (same rules)."""
    words = WORD_RE.findall(text or "")
    queryset = queryset if queryset is not None else Postmortem.objects.all()
    if not words:
        return queryset
    if connection.vendor == "postgresql":
        query = SearchQuery(" ".join(words), config=SEARCH_CONFIG, search_type="plain")
        return queryset.annotate(v=search_vector()).filter(v=query)
    return queryset.filter(reduce(and_, [Q(search_text__icontains=w) for w in words]))


# ---------------------------------------------------------------------------------------
# Markdown export
# ---------------------------------------------------------------------------------------
def postmortem_markdown(postmortem: Postmortem, *, tz=None) -> str:
    """The whole postmortem as one Markdown document for sharing outside the portal."""
    from postmortems.services import business_zone

    tz = tz or business_zone()
    incident = postmortem.incident

    def when(dt):
        return dt.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z") if dt else "-"

    lines = [
        f"# Postmortem: {incident.reference} {incident.title}",
        "",
        f"- Severity: {incident.severity.label} ({incident.severity.name})",
        f"- Status: {postmortem.get_status_display()}",
        f"- Owner: {postmortem.owner}",
        f"- Team: {postmortem.team or '-'}",
        f"- Due: {when(postmortem.due_at)}",
        f"- Impact: {when(incident.started_at)} to {when(incident.resolved_at)}",
    ]
    if postmortem.approved_at:
        lines.append(f"- Approved by {postmortem.approved_by} at {when(postmortem.approved_at)}")
    if postmortem.published_at:
        lines.append(f"- Published by {postmortem.published_by} at {when(postmortem.published_at)}")
    lines.append("")
    lines.append("_This is a blameless review: it looks at systems and decisions, not at people._")
    for _name, heading, text in postmortem.sections():
        lines += ["", f"## {heading}", "", text.strip() or "_Not written._"]
    items = list(postmortem.action_items.select_related("owner", "team").order_by("due_date", "id"))
    lines += ["", "## Action items", ""]
    if items:
        lines += [
            "| Item | Kind | Priority | Owner | Team | Due | Status | Tracker |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for item in items:
            status = item.get_status_display()
            if item.status == ActionItem.Status.WONT_DO:
                status += f" ({item.wont_do_reason})"
            cells = [
                item.title, item.get_kind_display(), item.get_priority_display(), str(item.owner),
                str(item.team or "-"), f"{item.due_date:%Y-%m-%d}", status, item.tracker_url or "-",
            ]  # fmt: skip
            lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
        pct = progress(postmortem)
        lines += ["", f"Progress: {pct}% done." if pct is not None else ""]
    else:
        lines.append("_No action items._")
    return "\n".join(lines).rstrip() + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\r", "").replace("\n", "<br>")


def today_in(tz) -> date:
    return timezone.now().astimezone(tz).date()
