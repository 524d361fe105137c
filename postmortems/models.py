"""Postmortems (one per incident) and their remediation action items.

Every state change goes through ``postmortems.services``; the models hold data and the rules
the database can enforce (one postmortem per incident, a reason for "won't do", completion
time iff finished, approval before publication).
"""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector
from django.db import models
from django.db.models import Q
from django.urls import reverse
from simple_history.models import HistoricalRecords

from opsportal.fields import URLField

SEARCH_CONFIG = "english"  # PostgreSQL text search configuration of the archive index

# The blameless template: (field name, heading) in document order.
SECTIONS = (
    ("summary", "Summary"),
    ("customer_impact", "Customer impact"),
    ("timeline", "Timeline"),
    ("trigger", "Trigger"),
    ("root_cause", "Root cause and contributing factors"),
    ("detection", "Detection"),
    ("resolution", "Resolution"),
    ("went_well", "What went well"),
    ("went_poorly", "What went poorly"),
    ("got_lucky", "Where we got lucky"),
    ("lessons_learned", "Lessons learned"),
    ("external_message", "External message sent to customers"),
)
SECTION_FIELDS = tuple(name for name, _ in SECTIONS)

# The reviewer's checklist (key, question), shown on the review page; all must be confirmed.
REVIEW_CHECKLIST = (
    ("key_data", "Key data collected (timeline, metrics, detection and response times)"),
    ("impact_complete", "Customer impact complete (who, how many, how long, support reports)"),
    ("root_cause_deep", "Root cause deep enough (contributing factors, not just the trigger)"),
    ("actions_appropriate", "Action items appropriate (owned, dated, prevent/detect/mitigate covered)"),
)
REVIEW_CHECKLIST_KEYS = tuple(key for key, _ in REVIEW_CHECKLIST)


class Holiday(models.Model):
    """A non-working day: postmortem due dates skip it like a weekend."""

    day = models.DateField(unique=True)
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["day"]

    def __str__(self) -> str:
        return f"{self.day:%Y-%m-%d} {self.name}"


class PostmortemQuerySet(models.QuerySet):
    def unpublished(self):
        return self.exclude(status=Postmortem.Status.PUBLISHED)


class Postmortem(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        IN_REVIEW = "in_review", "In review"
        PUBLISHED = "published", "Published"

    incident = models.OneToOneField("incidents.Incident", on_delete=models.CASCADE, related_name="postmortem")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="owned_postmortems",
        help_text="Writes the postmortem and drives it to publication.",
    )
    team = models.ForeignKey(
        "catalog.Team",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="postmortems",
        help_text="The incident's owning team; its manager is chased when the postmortem is late.",
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Asked to review (defaults to the team's engineering manager).",
    )
    due_at = models.DateTimeField(
        help_text="Resolution plus the severity's postmortem window, in business days."
    )

    summary = models.TextField(blank=True)
    customer_impact = models.TextField(blank=True)
    timeline = models.TextField(blank=True, help_text="Prefilled from the incident timeline; edit freely.")
    trigger = models.TextField(blank=True)
    root_cause = models.TextField(blank=True, verbose_name="root cause and contributing factors")
    detection = models.TextField(blank=True)
    resolution = models.TextField(blank=True)
    went_well = models.TextField(blank=True, verbose_name="what went well")
    went_poorly = models.TextField(blank=True, verbose_name="what went poorly")
    got_lucky = models.TextField(blank=True, verbose_name="where we got lucky")
    lessons_learned = models.TextField(blank=True)
    external_message = models.TextField(blank=True, verbose_name="external message sent to customers")

    review_checklist = models.JSONField(default=list, blank=True, editable=False)
    submitted_at = models.DateTimeField(null=True, blank=True, editable=False)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    approved_at = models.DateTimeField(null=True, blank=True, editable=False)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    published_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Incident title/summary plus every section, kept by the services: what archive search reads.
    search_text = models.TextField(blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()
    objects = PostmortemQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(approved_at__isnull=True, approved_by__isnull=True)
                | Q(approved_at__isnull=False, approved_by__isnull=False),
                name="%(app_label)s_%(class)s_approval_pair",
            ),
            models.CheckConstraint(
                condition=~Q(status="published")
                | Q(approved_at__isnull=False, published_at__isnull=False, published_by__isnull=False),
                name="%(app_label)s_%(class)s_published_is_approved",
            ),
            models.CheckConstraint(
                condition=Q(approved_by__isnull=True) | ~Q(approved_by=models.F("owner")),
                name="%(app_label)s_%(class)s_no_self_approval",
            ),
        ]
        indexes = [
            # reminders and the overdue filter: unpublished postmortems by due time
            models.Index(
                fields=["due_at"], name="postmortems_unpublished_due", condition=~Q(status="published")
            ),
            # archive search (PostgreSQL full text); created by a PostgreSQL-only migration operation
            GinIndex(SearchVector("search_text", config=SEARCH_CONFIG), name="postmortems_search_gin"),
        ]

    def __str__(self) -> str:
        return f"Postmortem of {self.incident}"

    def get_absolute_url(self) -> str:
        return reverse("admin:postmortems_postmortem_change", args=[self.pk])

    @property
    def is_published(self) -> bool:
        return self.status == self.Status.PUBLISHED

    def sections(self) -> list[tuple[str, str, str]]:
        """(field, heading, text) for every template section, in order."""
        return [(name, heading, getattr(self, name)) for name, heading in SECTIONS]


class ActionItemQuerySet(models.QuerySet):
    def unfinished(self):
        return self.filter(status__in=ActionItem.OPEN_STATUSES)

    def overdue(self, today: date):
        return self.unfinished().filter(due_date__lt=today)


class ActionItem(models.Model):
    """One piece of remediation work, owned and dated, chased until done (or declined)."""

    class Kind(models.TextChoices):
        PREVENT = "prevent", "Prevent"
        DETECT = "detect", "Detect"
        MITIGATE = "mitigate", "Mitigate"
        PROCESS = "process", "Process"

    class Priority(models.TextChoices):
        P1 = "p1", "P1 - urgent"
        P2 = "p2", "P2 - high"
        P3 = "p3", "P3 - normal"
        P4 = "p4", "P4 - low"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        IN_PROGRESS = "in_progress", "In progress"
        DONE = "done", "Done"
        WONT_DO = "wont_do", "Won't do"

    OPEN_STATUSES = (Status.OPEN, Status.IN_PROGRESS)
    FINISHED_STATUSES = (Status.DONE, Status.WONT_DO)

    postmortem = models.ForeignKey(Postmortem, on_delete=models.CASCADE, related_name="action_items")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="action_items")
    team = models.ForeignKey(
        "catalog.Team", on_delete=models.PROTECT, null=True, blank=True, related_name="action_items"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.PREVENT)
    priority = models.CharField(max_length=2, choices=Priority.choices, default=Priority.P3)
    due_date = models.DateField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN)
    wont_do_reason = models.TextField(blank=True, help_text="Required when the item will not be done.")
    tracker_url = URLField(
        max_length=500, blank=True, verbose_name="tracker URL", help_text="Jira, Linear, GitHub..."
    )
    completed_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()
    objects = ActionItemQuerySet.as_manager()

    class Meta:
        ordering = ["due_date", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="wont_do") | ~Q(wont_do_reason=""),
                name="%(app_label)s_%(class)s_wont_do_needs_reason",
            ),
            models.CheckConstraint(
                condition=(Q(status__in=["done", "wont_do"]) & Q(completed_at__isnull=False))
                | (Q(status__in=["open", "in_progress"]) & Q(completed_at__isnull=True)),
                name="%(app_label)s_%(class)s_completed_iff_finished",
            ),
        ]
        indexes = [
            # reminders: unfinished items due soon / overdue; Remediation "overdue", "due this week"
            models.Index(
                fields=["due_date"],
                name="postmortems_ai_open_due",
                condition=Q(status__in=["open", "in_progress"]),
            ),
            # per-owner digest and the "mine" filter
            models.Index(
                fields=["owner", "due_date"],
                name="postmortems_ai_open_owner",
                condition=Q(status__in=["open", "in_progress"]),
            ),
            # weekly team digest and the "my team" filter
            models.Index(
                fields=["team", "due_date"],
                name="postmortems_ai_open_team",
                condition=Q(status__in=["open", "in_progress"]),
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("admin:postmortems_actionitem_change", args=[self.pk])

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    def is_overdue(self, today: date) -> bool:
        return self.is_open and self.due_date < today
