"""Support escalations: a customer problem handed from support to the owning team's on-call.

An escalation is routed to the affected service's escalation policy (or the support-triage
policy when the agent is not sure), must be acknowledged within the SLA of its impact, and may
end up linked to an incident (attached by the agent, opened by surge detection or by a
responder). Every write goes through ``escalations.services``.
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

from opsportal import timeutil

MAX_LINKS = 10
MAX_CUSTOMERS = 100_000


class Impact(models.TextChoices):
    BLOCKED = "blocked", "Blocked - the customer cannot work"
    DEGRADED = "degraded", "Degraded - slow, partly broken or has a workaround"
    QUESTION = "question", "Question - nothing is broken yet"


class SupportSettings(models.Model):
    """The one row of support-escalation settings engineering managers edit in the admin:
    acknowledgement SLAs per impact, surge detection and the default triage policy."""

    SINGLETON = 1

    triage_policy = models.ForeignKey(
        "oncall.EscalationPolicy",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="support-triage policy",
        help_text='Pages for "not sure" escalations and for services whose team has no policy.',
    )
    blocked_ack_minutes = models.PositiveIntegerField(
        null=True, blank=True, default=15, validators=[MinValueValidator(1)],
        help_text="Acknowledge a blocked customer within this many minutes (empty: next business day).",
    )  # fmt: skip
    degraded_ack_minutes = models.PositiveIntegerField(
        null=True, blank=True, default=60, validators=[MinValueValidator(1)],
        help_text="Acknowledge a degraded experience within this many minutes (empty: next business day).",
    )  # fmt: skip
    question_ack_minutes = models.PositiveIntegerField(
        null=True, blank=True, default=None, validators=[MinValueValidator(1)],
        help_text="Acknowledge a question within this many minutes (empty: next business day, 09:00).",
    )  # fmt: skip
    surge_threshold = models.PositiveSmallIntegerField(
        default=3,
        validators=[MinValueValidator(2), MaxValueValidator(1000)],
        help_text="This many escalations for one service ...",
    )
    surge_window_minutes = models.PositiveIntegerField(
        default=15,
        validators=[MinValueValidator(1), MaxValueValidator(24 * 60)],
        help_text="... within this many minutes, with no open incident on it, open an incident.",
    )
    surge_severity = models.PositiveSmallIntegerField(
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(4)],
        help_text="Severity level (1-4) of incidents opened by surge detection.",
    )
    duplicate_window_minutes = models.PositiveIntegerField(
        default=60,
        validators=[MaxValueValidator(7 * 24 * 60)],
        help_text="A second filing for the same customer and service within this many minutes asks "
        "the agent to confirm it is not a duplicate; 0 turns the question off.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = "support settings"
        verbose_name_plural = "support settings"
        constraints = [
            models.CheckConstraint(condition=Q(pk=1), name="%(app_label)s_%(class)s_singleton"),
            models.CheckConstraint(
                condition=Q(surge_threshold__gte=2), name="%(app_label)s_%(class)s_threshold"
            ),
            models.CheckConstraint(
                condition=Q(surge_window_minutes__gte=1), name="%(app_label)s_%(class)s_window"
            ),
            models.CheckConstraint(
                condition=Q(surge_severity__gte=1, surge_severity__lte=4),
                name="%(app_label)s_%(class)s_severity",
            ),
        ]

    def __str__(self) -> str:
        return "Support escalation settings"

    @classmethod
    def load(cls) -> SupportSettings:
        obj = cls.objects.select_related("triage_policy").filter(pk=cls.SINGLETON).first()
        if obj is None:
            obj, _ = cls.objects.get_or_create(pk=cls.SINGLETON)
        return obj

    def ack_minutes(self, impact: str) -> int | None:
        return {
            Impact.BLOCKED: self.blocked_ack_minutes,
            Impact.DEGRADED: self.degraded_ack_minutes,
            Impact.QUESTION: self.question_ack_minutes,
        }[impact]

    def ack_due_at(self, impact: str, created_at: datetime) -> datetime:
        """Minutes after filing, or 09:00 on the next business day in the portal's TIME_ZONE."""
        minutes = self.ack_minutes(impact)
        if minutes:
            return created_at + timedelta(minutes=minutes)
        return timeutil.next_business_day_start(created_at, settings.TIME_ZONE)

    def sla_display(self, impact: str) -> str:
        minutes = self.ack_minutes(impact)
        if not minutes:
            return "next business day"
        if minutes % 60 == 0:
            return f"{minutes // 60} h"
        return f"{minutes} min"


class EscalationQuerySet(models.QuerySet):
    def unacknowledged(self):
        return self.filter(status=Escalation.Status.NEW)


class Escalation(models.Model):
    class Status(models.TextChoices):
        NEW = "new", "New"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        LINKED = "linked", "Linked to incident"
        RESOLVED = "resolved", "Resolved"

    class LinkSource(models.TextChoices):
        SUPPORT = "support", "Attached by support"
        SURGE = "surge", "Surge detection"
        ENGINEERING = "engineering", "Linked by engineering"

    Impact = Impact

    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="escalations",
        help_text="The support agent who filed it.",
    )  # fmt: skip
    customer = models.CharField(max_length=200, help_text="Customer or account identifier.")
    contact = models.CharField(max_length=200, help_text="How to reach the customer (e-mail, phone, ticket).")
    service = models.ForeignKey(
        "catalog.Service",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="escalations",
        help_text="Empty when the agent was not sure (routed to support triage).",
    )
    summary = models.TextField(max_length=5000, verbose_name="what the customer sees")
    impact = models.CharField(max_length=10, choices=Impact.choices)
    customers_reporting = models.PositiveIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(MAX_CUSTOMERS)]
    )
    started_at = models.DateTimeField(null=True, blank=True, help_text="When the customer says it started.")
    links = models.JSONField(default=list, blank=True, help_text="Tickets, screenshots (URLs).")

    status = models.CharField(max_length=12, choices=Status.choices, default=Status.NEW)
    ack_due_at = models.DateTimeField(help_text="Acknowledgement SLA of the impact, from filing.")
    policy = models.ForeignKey(
        "oncall.EscalationPolicy", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        help_text="Escalation policy it was routed to.",
    )  # fmt: skip
    page = models.ForeignKey(
        "oncall.Page", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    incident = models.ForeignKey(
        "incidents.Incident", on_delete=models.PROTECT, null=True, blank=True, related_name="escalations"
    )
    linked_by = models.CharField(max_length=12, blank=True, choices=LinkSource.choices)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    reply = models.TextField(max_length=5000, blank=True, help_text="Engineering's answer, shown to support.")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    dispatched_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When on-call was paged or the team told (or found not to be needed). Empty: the "
        "worker has yet to do it; the dispatch auditor takes over if its task was lost.",
    )

    history = HistoricalRecords()
    objects = EscalationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(customers_reporting__gte=1), name="%(app_label)s_%(class)s_customers_positive"
            ),
            models.CheckConstraint(
                condition=~Q(status="linked") | Q(incident__isnull=False),
                name="%(app_label)s_%(class)s_linked_has_incident",
            ),
            models.CheckConstraint(
                condition=~Q(status="acknowledged") | Q(acknowledged_at__isnull=False),
                name="%(app_label)s_%(class)s_acknowledged_has_time",
            ),
            models.CheckConstraint(
                condition=Q(status="resolved", resolved_at__isnull=False)
                | (~Q(status="resolved") & Q(resolved_at__isnull=True)),
                name="%(app_label)s_%(class)s_resolved_iff_resolved_at",
            ),
            models.CheckConstraint(
                condition=Q(impact__in=["blocked", "degraded", "question"]),
                name="%(app_label)s_%(class)s_impact",
            ),
        ]
        indexes = [
            # /support/ and the API: an agent's own escalations, newest first
            models.Index(fields=["reporter", "-created_at"], name="escalations_reporter_recent"),
            # surge detection: unlinked escalations of a service since the window start
            models.Index(
                fields=["service", "created_at"],
                name="escalations_surge_window",
                condition=Q(incident__isnull=True),
            ),
            # SLA reminder rule and the triage list's breach filter: new rows past their due time
            models.Index(fields=["ack_due_at"], name="escalations_new_due", condition=Q(status="new")),
            # admin triage changelist default ordering
            models.Index(fields=["-created_at", "-id"], name="escalations_created_desc"),
            # dispatch auditor: filings whose paging task has not run yet (a handful at most)
            models.Index(
                fields=["created_at"],
                name="escalations_undispatched",
                condition=Q(dispatched_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference}: {self.customer}"

    def get_absolute_url(self) -> str:
        return reverse("admin:escalations_escalation_change", args=[self.pk])

    @property
    def reference(self) -> str:
        return f"ESC-{self.pk}"

    @property
    def impact_short(self) -> str:
        return Impact(self.impact).label.split(" - ")[0]

    @property
    def is_open(self) -> bool:
        return self.status in (self.Status.NEW, self.Status.ACKNOWLEDGED)

    def sla_breached(self, now: datetime) -> bool:
        """Unacknowledged past the SLA, or acknowledged after it."""
        if self.acknowledged_at is not None:
            return self.acknowledged_at > self.ack_due_at
        if self.status in (self.Status.LINKED, self.Status.RESOLVED):
            return False
        return now > self.ack_due_at
