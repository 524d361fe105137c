"""Public status page: customer-facing components, publishing control of incidents,
scheduled maintenance and e-mail subscribers.

The status text customers read is the incident's own record (``incidents.StatusUpdate``
with audience "external" and ``Incident.customer_message``); this app only decides what is
public and how it is presented. ``catalog.Service`` stays untouched: a ``Component`` is the
public face of one service.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from opsportal.text import validate_no_control_characters


def new_public_id() -> str:
    """Non-guessable identifier used in public URLs (~96 bits)."""
    return secrets.token_urlsafe(12)


class ComponentStatus(models.TextChoices):
    """Ordered from best to worst, except maintenance (planned; ranks below outages)."""

    OPERATIONAL = "operational", "Operational"
    UNDER_MAINTENANCE = "under_maintenance", "Under maintenance"
    DEGRADED_PERFORMANCE = "degraded_performance", "Degraded performance"
    PARTIAL_OUTAGE = "partial_outage", "Partial outage"
    MAJOR_OUTAGE = "major_outage", "Major outage"


# Worst wins when several causes apply on the same component (or day).
STATUS_RANK = {
    ComponentStatus.OPERATIONAL: 0,
    ComponentStatus.UNDER_MAINTENANCE: 1,
    ComponentStatus.DEGRADED_PERFORMANCE: 2,
    ComponentStatus.PARTIAL_OUTAGE: 3,
    ComponentStatus.MAJOR_OUTAGE: 4,
}


class Component(models.Model):
    """A catalog service shown to customers under a public name, in a group, in an order."""

    public_id = models.CharField(max_length=32, unique=True, default=new_public_id, editable=False)
    service = models.OneToOneField(
        "catalog.Service", on_delete=models.CASCADE, related_name="status_component"
    )
    # Customer-facing text (status page, summary.json): no control characters (opsportal.text).
    name = models.CharField(
        max_length=100,
        help_text="Customer-facing name, e.g. Dashboard.",
        validators=[validate_no_control_characters],
    )
    description = models.CharField(
        max_length=300,
        blank=True,
        help_text="Shown to customers.",
        validators=[validate_no_control_characters],
    )
    group = models.CharField(
        max_length=100,
        blank=True,
        help_text="Customer-facing group, e.g. API.",
        validators=[validate_no_control_characters],
    )
    order = models.PositiveIntegerField(default=100, help_text="Lower comes first (within its group).")
    public = models.BooleanField(default=True, help_text="Shown on the public status page.")
    uptime_slo = models.ForeignKey(
        "slos.SLO",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Show uptime from this SLO's SLI (good / all events per day) instead of raw probe counts.",
    )
    override_status = models.CharField(
        max_length=24,
        choices=ComponentStatus.choices,
        blank=True,
        help_text="Manual status shown instead of the derived one; empty to derive from incidents.",
    )
    override_reason = models.CharField(
        max_length=300, blank=True, validators=[validate_no_control_characters]
    )
    override_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    override_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Every override (who, when, why) is a history row.
    history = HistoricalRecords()

    class Meta:
        ordering = ["group", "order", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(override_status="")
                | (Q(override_by__isnull=False) & Q(override_at__isnull=False)),
                name="%(app_label)s_%(class)s_override_recorded",
            ),
        ]
        indexes = [
            # the public page: public components in display order
            models.Index(fields=["group", "order"], name="status_component_public", condition=Q(public=True)),
        ]

    def __str__(self) -> str:
        return self.name


class PublicIncident(models.Model):
    """Publishing control for one incident: public or not, public id, public title.

    The words customers read are the incident's external updates and customer message (the
    same record support reads); nothing is copied here."""

    incident = models.OneToOneField("incidents.Incident", on_delete=models.CASCADE, related_name="public")
    public_id = models.CharField(max_length=32, unique=True, default=new_public_id, editable=False)
    public = models.BooleanField(default=True, help_text="Shown on the status page (drills never are).")
    public_title = models.CharField(
        max_length=200,
        blank=True,
        help_text="Customer-facing title; empty shows the incident title.",
        validators=[validate_no_control_characters],
    )
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    changed_at = models.DateTimeField(null=True, blank=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = "public incident"

    def __str__(self) -> str:
        return f"{self.incident.reference} ({'public' if self.public else 'not public'})"


class ScheduledMaintenance(models.Model):
    """Planned work announced to customers; affected components show "under maintenance"
    while it runs (unless an incident makes them worse)."""

    public_id = models.CharField(max_length=32, unique=True, default=new_public_id, editable=False)
    title = models.CharField(max_length=200, validators=[validate_no_control_characters])
    description = models.TextField(
        blank=True, help_text="Shown to customers.", validators=[validate_no_control_characters]
    )
    components = models.ManyToManyField(Component, related_name="maintenances")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    cancelled = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords(m2m_fields=[components])

    class Meta:
        ordering = ["starts_at"]
        verbose_name_plural = "scheduled maintenance"
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")),
                name="%(app_label)s_%(class)s_ends_after_start",
            ),
        ]
        indexes = [
            # upcoming / running windows on the public page and in the 90-day bars
            models.Index(fields=["ends_at"], name="status_maint_ends", condition=Q(cancelled=False)),
        ]

    def __str__(self) -> str:
        return self.title


class Subscriber(models.Model):
    """An e-mail address receiving external updates (double opt-in)."""

    class State(models.TextChoices):
        PENDING = "pending", "Waiting for confirmation"
        CONFIRMED = "confirmed", "Confirmed"
        UNSUBSCRIBED = "unsubscribed", "Unsubscribed"

    email = models.EmailField(unique=True, help_text="Stored lower-case.")
    state = models.CharField(max_length=12, choices=State.choices, default=State.PENDING)
    # Rotated on every (re-)subscription: old confirmation links stop working.
    nonce = models.CharField(max_length=32, default=new_public_id)
    confirmations_sent = models.PositiveIntegerField(default=0)
    confirmation_sent_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["email"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(state="confirmed") | Q(confirmed_at__isnull=False),
                name="%(app_label)s_%(class)s_confirmed_has_time",
            ),
        ]
        indexes = [
            # fan-out of an external update: confirmed subscribers
            models.Index(fields=["id"], name="status_subscriber_confirmed", condition=Q(state="confirmed")),
        ]

    def __str__(self) -> str:
        return self.email


class UpdateDispatch(models.Model):
    """One row per external status update handled by the subscriber fan-out (sent or skipped),
    so the sweep never handles an update twice."""

    update = models.OneToOneField("incidents.StatusUpdate", on_delete=models.CASCADE, related_name="+")
    sent = models.BooleanField(help_text="False when skipped (not public, drill, no public component).")
    recipients = models.PositiveIntegerField(default=0)
    dispatched_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"update {self.update_id}: {'sent' if self.sent else 'skipped'}"
