"""Reads over runbooks: search, freshness lists for reminders and readiness, service links.

Every list is indexed (see the comments on ``Runbook.Meta.indexes`` and migration 0002) and
bounded by ``limit``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime

from django.db import connection
from django.db.models import Case, Exists, F, FloatField, OuterRef, Q, QuerySet, Value, When
from django.db.models.expressions import RawSQL
from django.utils import timezone

from catalog.models import Service
from runbooks.models import Runbook

DEFAULT_LIMIT = 500
MAX_QUERY_LENGTH = 200
MAX_TERMS = 8

STEP_FIELDS = ("diagnostic_steps", "mitigation", "rollback", "escalation_notes")
# Fallback ranking weights mirror the PostgreSQL ones: title A > scenarios B > steps C > body D.
FALLBACK_WEIGHTS = (
    (("title",), 8.0),
    (("summary", "scenarios"), 4.0),
    (STEP_FIELDS, 2.0),
    (("body",), 1.0),
)


def base_queryset() -> QuerySet[Runbook]:
    """What every list shows: owner team, reviewers and services, in a constant number of queries."""
    return Runbook.objects.select_related("owner_team", "reviewed_by", "tested_by").prefetch_related(
        "services"
    )


def listing_queryset() -> QuerySet[Runbook]:
    """Search result lists: what a result row shows (title, summary, services, owner,
    freshness), without the long Markdown columns."""
    return (
        Runbook.objects.select_related("owner_team")
        .prefetch_related("services")
        .defer("body", "scenarios", *STEP_FIELDS, "test_evidence_note")
    )


def freshness_q(state: str, *, now: datetime | None = None) -> Q:
    """A filter for one freshness state, on the stored (indexed) review instants."""
    now = now or timezone.now()
    states = {
        Runbook.Freshness.STALE: Q(stale_at__lte=now),
        Runbook.Freshness.REVIEW_DUE: Q(review_due_at__lte=now, stale_at__gt=now),
        Runbook.Freshness.NEVER_TESTED: Q(review_due_at__gt=now, last_tested_at__isnull=True),
        Runbook.Freshness.FRESH: Q(review_due_at__gt=now, last_tested_at__isnull=False),
    }
    if state not in states:
        raise ValueError(f"unknown freshness {state!r}")
    return states[state]


def review_due(*, now: datetime | None = None, limit: int | None = DEFAULT_LIMIT) -> QuerySet[Runbook]:
    """Runbooks whose review is due but not yet stale, the longest overdue first."""
    qs = base_queryset().filter(freshness_q(Runbook.Freshness.REVIEW_DUE, now=now)).order_by("review_due_at")
    return qs[:limit] if limit else qs


def stale(*, now: datetime | None = None, limit: int | None = DEFAULT_LIMIT) -> QuerySet[Runbook]:
    """Runbooks a whole review interval overdue, the oldest first."""
    qs = base_queryset().filter(freshness_q(Runbook.Freshness.STALE, now=now)).order_by("stale_at")
    return qs[:limit] if limit else qs


def needing_review(*, now: datetime | None = None, limit: int | None = DEFAULT_LIMIT) -> QuerySet[Runbook]:
    """Review due or stale (what a reminder nags about), the longest overdue first."""
    now = now or timezone.now()
    qs = base_queryset().filter(review_due_at__lte=now).order_by("review_due_at")
    return qs[:limit] if limit else qs


def never_tested(*, limit: int | None = DEFAULT_LIMIT) -> QuerySet[Runbook]:
    """Runbooks whose steps were never exercised (whatever their review state)."""
    qs = base_queryset().filter(last_tested_at__isnull=True).order_by("title")
    return qs[:limit] if limit else qs


def services_without_runbooks(*, limit: int | None = DEFAULT_LIMIT) -> QuerySet[Service]:
    """Services no runbook covers (readiness: a tier-1 service should have one)."""
    covered = Runbook.services.through.objects.filter(service_id=OuterRef("pk"))
    qs = Service.objects.select_related("owner_team").filter(~Exists(covered)).order_by("tier", "name")
    return qs[:limit] if limit else qs


def has_runbook(service: Service) -> bool:
    return Runbook.services.through.objects.filter(service_id=service.pk).exists()


def runbooks_for_services(
    service_ids: Iterable[int], *, limit: int | None = DEFAULT_LIMIT
) -> QuerySet[Runbook]:
    """Runbooks covering any of these services (an incident's or a probe's services)."""
    ids = list(service_ids)
    covering = Runbook.services.through.objects.filter(runbook_id=OuterRef("pk"), service_id__in=ids)
    qs = base_queryset().filter(Exists(covering)).order_by("title")
    return qs[:limit] if limit else qs


def runbooks_by_service(service_ids: Iterable[int]) -> dict[int, list[Runbook]]:
    """service id -> its runbooks, in two queries (for pages listing many services)."""
    ids = list(service_ids)
    out: dict[int, list[Runbook]] = {i: [] for i in ids}
    links = Runbook.services.through.objects.filter(service_id__in=ids).select_related(
        "runbook", "runbook__owner_team"
    )
    for link in links.order_by("runbook__title"):
        out[link.service_id].append(link.runbook)
    return out


def normalise_query(query: str | None) -> str:
    return re.sub(r"\s+", " ", (query or "").replace("\x00", "")).strip()[:MAX_QUERY_LENGTH]


def search(query: str | None, *, queryset: QuerySet[Runbook] | None = None) -> QuerySet[Runbook]:
    """Runbooks matching ``query``, best first, annotated with ``rank`` (higher is better).

    PostgreSQL: full-text search on the weighted ``search_vector`` column (GIN index) with
    ``websearch_to_tsquery`` (quotes, ``or``, ``-word``; never a syntax error) and
    ``ts_rank``. Elsewhere (SQLite): every word must appear somewhere, ranked by where.
    An empty query returns everything by title.
    """
    qs = queryset if queryset is not None else base_queryset()
    text = normalise_query(query)
    if not text:
        return qs.annotate(rank=Value(0.0, output_field=FloatField())).order_by("title")
    if connection.vendor == "postgresql":
        return _search_postgresql(qs, text)
    return search_fallback(qs, text)


def _search_postgresql(qs: QuerySet[Runbook], text: str) -> QuerySet[Runbook]:
    from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVectorField

    # A fixed column name (no user input): the column exists only in the database (migration 0002).
    column = f'"{Runbook._meta.db_table}"."search_vector"'
    vector = RawSQL(column, [], output_field=SearchVectorField())  # noqa: S611
    tsquery = SearchQuery(text, config="english", search_type="websearch")
    return (
        qs.alias(search_vector=vector)
        .filter(search_vector=tsquery)
        .annotate(rank=SearchRank(F("search_vector"), tsquery))
        .order_by("-rank", "title")
    )


def search_fallback(qs: QuerySet[Runbook], text: str) -> QuerySet[Runbook]:
    """Portable search: every word must appear somewhere; each word scores the weight of the
    best field it appears in (title 8 > scenarios 4 > steps 2 > body 1), summed over words."""
    terms = [t for t in re.split(r"\s+", text.replace('"', " ")) if t][:MAX_TERMS]
    score = Value(0.0, output_field=FloatField())
    for term in terms:
        anywhere = Q()
        best = []
        for fields, weight in FALLBACK_WEIGHTS:
            in_group = Q()
            for field in fields:
                in_group |= Q(**{f"{field}__icontains": term})
            anywhere |= in_group
            best.append(When(in_group, then=Value(weight)))
        qs = qs.filter(anywhere)
        score = score + Case(*best, default=Value(0.0), output_field=FloatField())
    return qs.annotate(rank=score).order_by("-rank", "title")
