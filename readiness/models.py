"""Releases, readiness templates, reviews (items copied from a template) and signatures.

A release moves ``planned -> in_review -> approved -> shipped | rolled_back`` (or ``cancelled``
from any open state) through the transition functions in ``readiness/services.py``. Its review
holds copies of the template's items, so editing a template later never rewrites a past
review.

A signature vouches for the signed content (``readiness.selectors.signed_content``): the
review's item states, evidence and waivers, and the release's plan (version, change summary,
risk, release lead, deploy window, services, rollback plan, time, test and evidence). It
stores that content (``snapshot``) and its SHA-256; a later change to any of it invalidates
the signature (``invalidated_at``, with a reason naming what changed), and readers also
compare the hash, so a change made outside the services is caught too. Signing the slot again
supersedes the old signature (``superseded_at``; the new one points at it through
``supersedes``): it stays for audit, and only the current signature of each slot counts.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from simple_history.models import HistoricalRecords

from opsportal.fields import URLField


class Risk(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"


RISK_ORDER = {Risk.LOW: 0, Risk.MEDIUM: 1, Risk.HIGH: 2}


class ReadinessTemplate(models.Model):
    class ManagerSignoff(models.TextChoices):
        NEVER = "never", "Never"
        MEDIUM = "medium", "Medium and high risk"
        HIGH = "high", "High risk only"
        ALWAYS = "always", "Always"

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    risk_levels = models.JSONField(
        default=list,
        blank=True,
        help_text='Risk levels this template is chosen for, e.g. ["high"]; the default template covers the rest.',
    )
    is_default = models.BooleanField(
        default=False, help_text="Used when no template names the release's risk."
    )
    require_release_lead = models.BooleanField(default=True, help_text="A member of Release leads signs.")
    manager_signoff = models.CharField(
        max_length=10,
        choices=ManagerSignoff.choices,
        default=ManagerSignoff.HIGH,
        help_text="When the owning teams' engineering managers must sign too.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=Q(is_default=True),
                name="%(app_label)s_%(class)s_one_default",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class TemplateItem(models.Model):
    template = models.ForeignKey(ReadinessTemplate, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveSmallIntegerField()
    key = models.SlugField(max_length=60, help_text="Stable identifier within the template.")
    title = models.CharField(max_length=200)
    guidance = models.TextField(blank=True)
    required = models.BooleanField(default=True)
    required_for_high_risk = models.BooleanField(
        default=False, help_text="Optional unless the release is high risk."
    )
    evidence_required = models.BooleanField(default=False)
    check_key = models.CharField(
        max_length=40, blank=True, help_text="Automatic check evaluated from live data."
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["template", "position"]
        constraints = [
            models.UniqueConstraint(fields=["template", "key"], name="%(app_label)s_%(class)s_unique_key"),
            models.UniqueConstraint(
                fields=["template", "position"], name="%(app_label)s_%(class)s_unique_position"
            ),
        ]

    def __str__(self) -> str:
        return self.title


class Release(models.Model):
    class Status(models.TextChoices):
        PLANNED = "planned", "Planned"
        IN_REVIEW = "in_review", "In review"
        APPROVED = "approved", "Approved"
        SHIPPED = "shipped", "Shipped"
        ROLLED_BACK = "rolled_back", "Rolled back"
        CANCELLED = "cancelled", "Cancelled"

    OPEN_STATUSES = (Status.PLANNED, Status.IN_REVIEW, Status.APPROVED)

    name = models.CharField(max_length=150)
    version = models.CharField(max_length=60)
    services = models.ManyToManyField("catalog.Service", related_name="releases")
    release_lead = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="led_releases"
    )
    window_start = models.DateTimeField(help_text="Planned deploy window start.")
    window_end = models.DateTimeField(help_text="Planned deploy window end.")
    change_summary = models.TextField(blank=True)
    risk = models.CharField(max_length=10, choices=Risk.choices, default=Risk.MEDIUM)
    rollback_plan = models.TextField(blank=True, help_text="Steps to roll back.")
    rollback_minutes = models.PositiveIntegerField(
        null=True, blank=True, help_text="Estimated rollback time."
    )
    rollback_tested_at = models.DateTimeField(null=True, blank=True)
    rollback_evidence_url = URLField(max_length=500, blank=True)
    rollback_evidence_note = models.TextField(blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PLANNED)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    # Last answer of the gate (cached for lists; the gate itself always evaluates live).
    last_gate_decision = models.CharField(max_length=6, blank=True, editable=False)
    last_gate_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(m2m_fields=[services], excluded_fields=["last_gate_decision", "last_gate_at"])

    class Meta:
        ordering = ["window_start", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["name", "version"], name="%(app_label)s_%(class)s_unique_version"
            ),
            models.CheckConstraint(
                condition=Q(window_end__gt=F("window_start")), name="%(app_label)s_%(class)s_window_order"
            ),
        ]
        indexes = [
            # upcoming releases list and the sign-off reminder: open releases by window start
            models.Index(
                fields=["window_start"],
                name="readiness_release_open_window",
                condition=Q(status__in=["planned", "in_review", "approved"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.version}"

    def get_absolute_url(self) -> str:
        return reverse("admin:readiness_release_review", args=[self.pk])


class ReadinessReview(models.Model):
    release = models.OneToOneField(Release, on_delete=models.CASCADE, related_name="review")
    template = models.ForeignKey(ReadinessTemplate, on_delete=models.SET_NULL, null=True, blank=True)
    template_name = models.CharField(max_length=100, help_text="Copied: the template may be renamed later.")
    required_slots = models.JSONField(default=list, help_text="Signer slots fixed when the review started.")
    checks_evaluated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    def __str__(self) -> str:
        return f"Review of {self.release}"


class ReviewItem(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        PASS = "pass", "Pass"
        FAIL = "fail", "Fail"
        WAIVED = "waived", "Waived"

    review = models.ForeignKey(ReadinessReview, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveSmallIntegerField()
    key = models.SlugField(max_length=60)
    title = models.CharField(max_length=200)
    guidance = models.TextField(blank=True)
    required = models.BooleanField(default=True)
    evidence_required = models.BooleanField(default=False)
    check_key = models.CharField(max_length=40, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    evidence_url = URLField(max_length=500, blank=True)
    evidence_note = models.TextField(blank=True)
    waiver_reason = models.TextField(blank=True)
    waived_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    check_passed = models.BooleanField(null=True, blank=True)
    check_reasons = models.JSONField(default=list, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["review", "position"]
        constraints = [
            models.UniqueConstraint(fields=["review", "key"], name="%(app_label)s_%(class)s_unique_key"),
            models.CheckConstraint(
                condition=~Q(state="waived") | (Q(waived_by__isnull=False) & ~Q(waiver_reason="")),
                name="%(app_label)s_%(class)s_waiver_has_reason_and_who",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def has_evidence(self) -> bool:
        return bool(self.evidence_url or self.evidence_note.strip())


class Signature(models.Model):
    review = models.ForeignKey(ReadinessReview, on_delete=models.CASCADE, related_name="signatures")
    slot = models.CharField(max_length=40, help_text='"release-lead" or "manager:<team id>".')
    signer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    signed_at = models.DateTimeField()
    content_hash = models.CharField(
        max_length=64, help_text="SHA-256 over the signed content: item states and the release's plan."
    )
    snapshot = models.JSONField(
        default=dict, help_text="The content that was signed (items and release plan)."
    )
    invalidated_at = models.DateTimeField(null=True, blank=True)
    invalidated_reason = models.CharField(max_length=200, blank=True)
    superseded_at = models.DateTimeField(
        null=True, blank=True, help_text="When a new signature of this slot replaced this one."
    )
    supersedes = models.OneToOneField(
        "self",
        on_delete=models.SET_NULL,  # a review is deleted whole (cascade)
        null=True,
        blank=True,
        related_name="superseded_by",
        help_text="The earlier signature of this slot that this one replaced.",
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["review", "signed_at", "pk"]
        constraints = [
            # one current signature per slot (concurrent sign-offs of one slot: one wins); the
            # index also serves "the current signatures of a review" (gate, review page)
            models.UniqueConstraint(
                fields=["review", "slot"],
                condition=Q(superseded_at__isnull=True),
                name="%(app_label)s_%(class)s_one_current_per_slot",
            ),
            # a signature is only replaced once it no longer holds, so its reason stays on record
            models.CheckConstraint(
                condition=Q(superseded_at__isnull=True) | Q(invalidated_at__isnull=False),
                name="%(app_label)s_%(class)s_superseded_was_invalidated",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.slot} by {self.signer}"

    @property
    def is_current(self) -> bool:
        return self.superseded_at is None
