"""Runbooks: the diagnostic, mitigation and rollback steps for a failure, tied to services.

Freshness: a runbook is reviewed every ``review_interval_days`` (90 by default). Its review
clock starts at the last review (or at creation, the author's own review). It is *review due*
from ``review_due_at`` = baseline + interval and *stale* from ``stale_at`` = baseline + twice
the interval (a whole interval overdue). A runbook whose review is current but whose steps were
never exercised (game day, real incident) is *never tested*. Both instants are stored so the
reminder and readiness selectors are indexed range scans instead of per-row arithmetic.

Search (PostgreSQL): migration 0002 adds a generated ``search_vector`` tsvector column
(title A, scenarios B, steps C, body D) with a GIN index. It is not a model field: SQLite has
no tsvector, and Django never has to read or write it. ``runbooks.selectors.search`` uses it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from simple_history.models import HistoricalRecords

from opsportal.fields import URLField

DEFAULT_REVIEW_INTERVAL_DAYS = 90
MAX_REVIEW_INTERVAL_DAYS = 730


class Runbook(models.Model):
    class Freshness(models.TextChoices):
        FRESH = "fresh", "Fresh"
        NEVER_TESTED = "never-tested", "Never tested"
        REVIEW_DUE = "review-due", "Review due"
        STALE = "stale", "Stale"

    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=120, unique=True, help_text="Stable address: /runbooks/<slug>/.")
    services = models.ManyToManyField(
        "catalog.Service",
        related_name="runbooks",
        blank=True,
        help_text="Services whose failures this runbook covers.",
    )
    owner_team = models.ForeignKey(
        "catalog.Team",
        on_delete=models.PROTECT,  # a team that still owns runbooks cannot disappear
        related_name="runbooks",
        help_text="Team that keeps this runbook correct.",
    )
    summary = models.CharField(max_length=300, blank=True, help_text="One line: when to use this runbook.")
    scenarios = models.TextField(
        blank=True, help_text="Failure scenarios it covers, one per line (alerts, symptoms)."
    )
    diagnostic_steps = models.TextField(blank=True, help_text="Markdown. How to confirm what is wrong.")
    mitigation = models.TextField(blank=True, help_text="Markdown. How to stop the bleeding.")
    rollback = models.TextField(blank=True, help_text="Markdown. How to undo the mitigation or a change.")
    escalation_notes = models.TextField(
        blank=True, help_text="Markdown. Who to call when this does not work."
    )
    body = models.TextField(blank=True, help_text="Markdown. Background, architecture, links.")

    review_interval_days = models.PositiveSmallIntegerField(
        default=DEFAULT_REVIEW_INTERVAL_DAYS,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_REVIEW_INTERVAL_DAYS)],
        help_text="Days between reviews.",
    )
    last_reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    review_note = models.CharField(max_length=500, blank=True)
    last_tested_at = models.DateTimeField(null=True, blank=True)
    tested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    test_evidence_url = URLField(max_length=500, blank=True, help_text="Game day notes, incident, recording.")
    test_evidence_note = models.TextField(blank=True, help_text="What was exercised and what happened.")

    # Derived from the review clock (see the module docstring); kept in sync by save().
    review_due_at = models.DateTimeField(editable=False)
    stale_at = models.DateTimeField(editable=False)

    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(m2m_fields=[services])

    class Meta:
        ordering = ["title"]
        constraints = [
            models.CheckConstraint(
                condition=Q(review_interval_days__gte=1)
                & Q(review_interval_days__lte=MAX_REVIEW_INTERVAL_DAYS),
                name="%(app_label)s_%(class)s_review_interval_range",
            ),
            models.CheckConstraint(
                condition=Q(stale_at__gte=models.F("review_due_at")),
                name="%(app_label)s_%(class)s_stale_after_due",
            ),
        ]
        indexes = [
            # selectors.review_due(): review_due_at <= now < stale_at, oldest first
            models.Index(fields=["review_due_at"], name="runbooks_runbook_review_due"),
            # selectors.stale(): stale_at <= now, oldest first
            models.Index(fields=["stale_at"], name="runbooks_runbook_stale"),
            # selectors.never_tested(): only the untested rows, by title
            models.Index(
                fields=["title"], name="runbooks_runbook_untested", condition=Q(last_tested_at__isnull=True)
            ),
            # admin "team" filter and team pages: runbooks of a team by title
            models.Index(fields=["owner_team", "title"], name="runbooks_runbook_team_title"),
        ]

    def __str__(self) -> str:
        return self.title

    def save(self, *args, **kwargs):
        # Derived columns, not business rules: recomputed on every save so that every write
        # path (services, history restore, factories) keeps the indexed instants in sync.
        self.review_due_at, self.stale_at = self.compute_due_dates()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            kwargs["update_fields"] = {*update_fields, "review_due_at", "stale_at"}
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("runbooks:detail", args=[self.slug])

    def compute_due_dates(self) -> tuple[datetime, datetime]:
        baseline = self.last_reviewed_at or self.created_at or timezone.now()
        interval = timedelta(days=self.review_interval_days or DEFAULT_REVIEW_INTERVAL_DAYS)
        return baseline + interval, baseline + 2 * interval

    def freshness_at(self, now: datetime) -> Runbook.Freshness:
        due, stale = self.compute_due_dates()
        if now >= stale:
            return self.Freshness.STALE
        if now >= due:
            return self.Freshness.REVIEW_DUE
        if self.last_tested_at is None:
            return self.Freshness.NEVER_TESTED
        return self.Freshness.FRESH

    @property
    def freshness(self) -> Runbook.Freshness:
        return self.freshness_at(timezone.now())
