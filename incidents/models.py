"""Severities (the triage guide as data), incidents, their timeline and status updates.

Every state change goes through ``incidents.services``; the models only hold data and the
integrity rules the database can enforce (timestamp order, roles required from
acknowledgement on, status/timestamp consistency).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from simple_history.models import HistoricalRecords

from opsportal import timeutil
from opsportal.fields import URLField
from opsportal.text import validate_no_control_characters

NUMBER_PREFIX = "INC-"
FIRST_NUMBER = 1001


class Severity(models.Model):
    """One row per level (SEV-1 .. SEV-4): what it means, how fast we answer, who is paged."""

    class AckSla(models.TextChoices):
        MINUTES = "minutes", "Within a number of minutes"
        NEXT_BUSINESS_DAY = "next_business_day", "Next business day"

    level = models.PositiveSmallIntegerField(
        unique=True,
        validators=[MinValueValidator(1), MaxValueValidator(4)],
        help_text="1 is the most severe.",
    )
    name = models.CharField(max_length=60, help_text="Short meaning, e.g. Critical outage or data loss.")
    description = models.TextField(help_text="When to use this severity (the triage guide).")
    examples = models.TextField(blank=True, help_text="Concrete examples, one per line.")
    ack_sla_mode = models.CharField(max_length=20, choices=AckSla.choices, default=AckSla.MINUTES)
    ack_sla_minutes = models.PositiveIntegerField(
        null=True, blank=True, help_text="Acknowledge within this many minutes of detection."
    )
    update_cadence_minutes = models.PositiveIntegerField(
        null=True, blank=True, help_text="A status update is due this often while open; empty for none."
    )
    pages_oncall = models.BooleanField(default=False, help_text="Declaring or raising to it pages on-call.")
    postmortem_required = models.BooleanField(default=False)
    postmortem_due_business_days = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Postmortem due this many business days after resolution."
    )
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["level"]
        verbose_name_plural = "severities"
        constraints = [
            models.CheckConstraint(
                condition=Q(level__gte=1, level__lte=4), name="%(app_label)s_%(class)s_level_1_to_4"
            ),
            models.CheckConstraint(
                condition=(Q(ack_sla_mode="minutes") & Q(ack_sla_minutes__isnull=False))
                | (Q(ack_sla_mode="next_business_day") & Q(ack_sla_minutes__isnull=True)),
                name="%(app_label)s_%(class)s_ack_sla_consistent",
            ),
            models.CheckConstraint(
                condition=Q(postmortem_required=False) | Q(postmortem_due_business_days__isnull=False),
                name="%(app_label)s_%(class)s_postmortem_due_when_required",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label} - {self.name}"

    def clean(self) -> None:
        errors = {}
        if self.ack_sla_mode == self.AckSla.MINUTES and not self.ack_sla_minutes:
            errors["ack_sla_minutes"] = "Give the acknowledge SLA in minutes."
        if self.ack_sla_mode == self.AckSla.NEXT_BUSINESS_DAY and self.ack_sla_minutes is not None:
            errors["ack_sla_minutes"] = "Leave empty when the SLA is the next business day."
        if self.postmortem_required and self.postmortem_due_business_days is None:
            errors["postmortem_due_business_days"] = "Say when a required postmortem is due."
        if errors:
            raise ValidationError(errors)

    @property
    def label(self) -> str:
        return f"SEV-{self.level}"

    @property
    def ack_sla_display(self) -> str:
        if self.ack_sla_mode == self.AckSla.NEXT_BUSINESS_DAY:
            return "next business day"
        return _minutes_display(self.ack_sla_minutes)

    @property
    def cadence_display(self) -> str:
        return _minutes_display(self.update_cadence_minutes) if self.update_cadence_minutes else "none"

    def ack_due_at(self, detected_at: datetime) -> datetime:
        """When an incident detected at ``detected_at`` must be acknowledged.

        "Next business day" is 09:00 on the next business day in the portal's TIME_ZONE
        (the organisation's working zone), computed by opsportal.timeutil.
        """
        if self.ack_sla_mode == self.AckSla.NEXT_BUSINESS_DAY:
            return timeutil.next_business_day_start(detected_at, settings.TIME_ZONE)
        return detected_at + timedelta(minutes=self.ack_sla_minutes or 0)

    def postmortem_due_at(self, resolved_at: datetime) -> datetime | None:
        if self.postmortem_due_business_days is None:
            return None
        return timeutil.add_business_days(resolved_at, self.postmortem_due_business_days, settings.TIME_ZONE)


def _minutes_display(minutes: int | None) -> str:
    if not minutes:
        return "-"
    if minutes % 60 == 0:
        hours = minutes // 60
        return f"{hours} h"
    return f"{minutes} min"


class IncidentQuerySet(models.QuerySet):
    def open(self):
        return self.filter(status__in=Incident.OPEN_STATUSES)

    def real(self):
        """Excludes drills (game days, tabletop rehearsals): what metrics count."""
        return self.filter(drill=False)


class Incident(models.Model):
    class Status(models.TextChoices):
        INVESTIGATING = "investigating", "Investigating"
        IDENTIFIED = "identified", "Identified"
        MONITORING = "monitoring", "Monitoring"
        RESOLVED = "resolved", "Resolved"
        CLOSED = "closed", "Closed"

    class DetectionSource(models.TextChoices):
        MONITORING = "monitoring", "Monitoring / probe"
        SLO = "slo", "SLO or error-budget alert"
        SUPPORT = "support", "Customer support report"
        MANUAL = "manual", "Internal / manual"

    OPEN_STATUSES = (Status.INVESTIGATING, Status.IDENTIFIED, Status.MONITORING)

    number = models.PositiveIntegerField(unique=True, editable=False, help_text="Shown as INC-<number>.")
    title = models.CharField(
        max_length=200, validators=[validate_no_control_characters]
    )  # status page, feeds
    summary = models.TextField(blank=True)
    severity = models.ForeignKey(Severity, on_delete=models.PROTECT, related_name="incidents")
    # The most severe level the incident ever had: set when declared, raised (never lowered) by
    # services.change_severity. The postmortem requirement and due date follow it, so lowering
    # a resolved SEV-1 cannot skip its postmortem. The database cannot compare levels across
    # the two foreign keys (a CheckConstraint sees ids, not levels): the service enforces it.
    # Indexed (the FK index): "resolved incidents whose peak requires a postmortem".
    peak_severity = models.ForeignKey(
        Severity,
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
        help_text="The most severe level it ever had; decides whether a postmortem is required.",
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.INVESTIGATING)
    drill = models.BooleanField(
        default=False,
        help_text="Game day or tabletop rehearsal: same flow, excluded from metrics, counts as rehearsal evidence.",
    )
    detection_source = models.CharField(
        max_length=20, choices=DetectionSource.choices, default=DetectionSource.MANUAL
    )

    services = models.ManyToManyField("catalog.Service", related_name="incidents", blank=True)
    primary_service = models.ForeignKey(
        "catalog.Service",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="primary_incidents",
        help_text="The service at the centre of the incident; its team owns the incident unless set.",
    )
    owning_team = models.ForeignKey(
        "catalog.Team", on_delete=models.PROTECT, null=True, blank=True, related_name="incidents"
    )
    runbooks = models.ManyToManyField(
        "runbooks.Runbook",
        related_name="incidents",
        blank=True,
        help_text="Runbooks used while handling it (linked through incidents.services.link_runbook).",
    )

    # Roles. PROTECT: people are deactivated, not deleted, so the record stays whole.
    commander = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="commanded_incidents",
        help_text="Incident commander; required from acknowledgement on.",
    )
    comms_lead = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="comms_led_incidents",
        verbose_name="communications lead",
    )
    scribe = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    declared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Empty when declared by automation (a probe, an alert).",
    )
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    customer_impact = models.TextField(blank=True, help_text="What customers experience.")
    customers_affected = models.PositiveIntegerField(
        null=True, blank=True, help_text="Estimate of affected customers."
    )
    reported_customers = models.PositiveIntegerField(
        default=0, help_text="Customers who reported it through support (counted by escalations)."
    )
    customer_message = models.TextField(
        blank=True,
        help_text="Approved external wording support uses with customers.",
        validators=[validate_no_control_characters],
    )
    customer_message_updated_at = models.DateTimeField(null=True, blank=True)
    channel_url = URLField(
        max_length=500, blank=True, verbose_name="channel / meeting link", help_text="Internal chat or call."
    )
    tags = models.CharField(max_length=200, blank=True, help_text="Comma-separated, e.g. database, gcp.")

    # Lifecycle timestamps (aware UTC): the source of MTTD, MTTA, MTTR and impact duration.
    started_at = models.DateTimeField(help_text="When impact began (defaults to detection).")
    detected_at = models.DateTimeField()
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    mitigated_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    last_update_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="Time of the latest status update."
    )
    reopened_count = models.PositiveSmallIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(m2m_fields=[services])
    objects = IncidentQuerySet.as_manager()

    class Meta:
        ordering = ["-detected_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(started_at__lte=F("detected_at")),
                name="%(app_label)s_%(class)s_started_le_detected",
            ),
            models.CheckConstraint(
                condition=Q(acknowledged_at__isnull=True) | Q(detected_at__lte=F("acknowledged_at")),
                name="%(app_label)s_%(class)s_detected_le_acknowledged",
            ),
            models.CheckConstraint(
                condition=Q(mitigated_at__isnull=True)
                | Q(resolved_at__isnull=True)
                | Q(mitigated_at__lte=F("resolved_at")),
                name="%(app_label)s_%(class)s_mitigated_le_resolved",
            ),
            models.CheckConstraint(
                condition=Q(resolved_at__isnull=True)
                | Q(closed_at__isnull=True)
                | Q(resolved_at__lte=F("closed_at")),
                name="%(app_label)s_%(class)s_resolved_le_closed",
            ),
            models.CheckConstraint(
                condition=Q(mitigated_at__isnull=True) | Q(started_at__lte=F("mitigated_at")),
                name="%(app_label)s_%(class)s_started_le_mitigated",
            ),
            models.CheckConstraint(
                condition=Q(acknowledged_at__isnull=True) | Q(commander__isnull=False),
                name="%(app_label)s_%(class)s_commander_from_ack",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["investigating", "identified", "monitoring"])
                | (Q(resolved_at__isnull=False) & Q(mitigated_at__isnull=False)),
                name="%(app_label)s_%(class)s_resolved_has_timestamps",
            ),
            models.CheckConstraint(
                condition=Q(status="closed", closed_at__isnull=False)
                | (~Q(status="closed") & Q(closed_at=None)),
                name="%(app_label)s_%(class)s_closed_iff_closed_at",
            ),
            models.CheckConstraint(
                condition=Q(number__gte=1), name="%(app_label)s_%(class)s_number_positive"
            ),
        ]
        indexes = [
            # open incidents (support selector, dashboards, "update overdue" reminders)
            models.Index(
                fields=["severity", "detected_at"],
                name="incidents_open_by_severity",
                condition=Q(status__in=["investigating", "identified", "monitoring"]),
            ),
            # team history and metrics: incidents of a team over a period
            models.Index(fields=["owning_team", "detected_at"], name="incidents_team_detected"),
            # admin/API default ordering and date-range filter
            models.Index(fields=["-detected_at", "-id"], name="incidents_detected_desc"),
        ]

    def __str__(self) -> str:
        return f"{self.reference}: {self.title}"

    def get_absolute_url(self) -> str:
        return reverse("admin:incidents_incident_change", args=[self.pk])

    @property
    def reference(self) -> str:
        return f"{NUMBER_PREFIX}{self.number}"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    @property
    def tag_list(self) -> list[str]:
        return [t for t in (p.strip() for p in self.tags.split(",")) if t]

    def timestamp_errors(self) -> dict[str, str]:
        """Field -> message for every ordering rule the check constraints enforce."""
        errors: dict[str, str] = {}

        def order(earlier: str, later: str, message: str) -> None:
            a, b = getattr(self, earlier), getattr(self, later)
            if a is not None and b is not None and a > b:
                errors.setdefault(later, message)

        order("started_at", "detected_at", "Impact cannot start after the incident was detected.")
        order("detected_at", "acknowledged_at", "Acknowledgement cannot be earlier than detection.")
        order("started_at", "mitigated_at", "Mitigation cannot be earlier than the start of impact.")
        order("mitigated_at", "resolved_at", "Resolution cannot be earlier than mitigation.")
        order("resolved_at", "closed_at", "Closing cannot be earlier than resolution.")
        return errors

    def duration(self, now: datetime) -> timedelta:
        """Impact duration: from start to resolution (or now while open)."""
        end = self.resolved_at or now
        return max(end - self.started_at, timedelta(0))

    def next_update_due_at(self) -> datetime | None:
        """Next status update due from the severity cadence while the incident is open."""
        cadence = self.severity.update_cadence_minutes
        if not cadence or not self.is_open:
            return None
        base = self.last_update_at or self.acknowledged_at or self.detected_at
        return base + timedelta(minutes=cadence)

    def ack_due_at(self) -> datetime:
        return self.severity.ack_due_at(self.detected_at)


class TimelineEvent(models.Model):
    """One line of an incident's story. Other apps add events through
    ``incidents.services.add_timeline_event`` only."""

    class Kind(models.TextChoices):
        DECLARED = "declared", "Declared"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        STATUS_CHANGED = "status_changed", "Status changed"
        SEVERITY_CHANGED = "severity_changed", "Severity changed"
        ROLE_CHANGED = "role_changed", "Role changed"
        STATUS_UPDATE = "status_update", "Status update"
        CUSTOMER_MESSAGE = "customer_message", "Customer message"
        DETAILS_CHANGED = "details_changed", "Details changed"
        NOTE = "note", "Note"
        SUPPORT_REPORT = "support_report", "Support report"
        PROBE_ALERT = "probe_alert", "Probe alert"
        ALERT = "alert", "Alert"
        PAGE = "page", "Page"
        RUNBOOK = "runbook", "Runbook"
        POSTMORTEM = "postmortem", "Postmortem"

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="timeline")
    kind = models.CharField(max_length=30, choices=Kind.choices)
    text = models.TextField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    occurred_at = models.DateTimeField(help_text="When it happened (notes may be back-dated).")
    recorded_at = models.DateTimeField(auto_now_add=True, help_text="When it was written down.")
    # Optional link to the object the event is about (a support report, a probe, a page...).
    related_type = models.ForeignKey(ContentType, on_delete=models.SET_NULL, null=True, blank=True)
    related_id = models.PositiveBigIntegerField(null=True, blank=True)
    data = models.JSONField(default=dict, blank=True, help_text="Structured details (from/to values).")

    class Meta:
        ordering = ["occurred_at", "id"]
        indexes = [
            # an incident's timeline in order (admin change page, API timeline/, Markdown export)
            models.Index(fields=["incident", "occurred_at", "id"], name="incidents_timeline_order"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(related_type__isnull=True, related_id__isnull=True)
                | Q(related_type__isnull=False, related_id__isnull=False),
                name="%(app_label)s_%(class)s_related_pair",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M} {self.get_kind_display()}: {self.text[:60]}"


class StatusUpdate(models.Model):
    class Audience(models.TextChoices):
        INTERNAL = "internal", "Internal"
        EXTERNAL = "external", "External (customers)"

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="updates")
    audience = models.CharField(max_length=10, choices=Audience.choices, default=Audience.INTERNAL)
    text = models.TextField(
        validators=[validate_no_control_characters]
    )  # external ones: status page, feeds, e-mail
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(
        max_length=20, choices=Incident.Status.choices, help_text="Incident status when posted."
    )
    replaced_customer_message = models.BooleanField(default=False)
    posted_at = models.DateTimeField()

    class Meta:
        ordering = ["-posted_at", "-id"]
        indexes = [
            # an incident's updates, newest first (admin change page, API updates/)
            models.Index(fields=["incident", "-posted_at"], name="incidents_updates_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.get_audience_display()} update on {self.posted_at:%Y-%m-%d %H:%M}"
