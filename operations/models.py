"""The operating model register: recurring duties with named owners, cadences and check-ins.

``Responsibility.next_due_at`` is the earliest due point not yet done and ``due_soon_at``
when reminding starts; both are written only by ``operations.services`` (computed by the
pure engine in ``operations.cadence``) so lists, filters and reminder rules stay single
indexed queries. ``last_done_at`` is not stored: it derives from the check-ins.
"""

from __future__ import annotations

from datetime import datetime, time

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from simple_history.models import HistoricalRecords

from accounts.models import validate_time_zone
from operations import cadence as engine
from opsportal.fields import URLField


class Health(models.TextChoices):
    ON_TRACK = "on_track", "On track"
    DUE_SOON = "due_soon", "Due soon"
    OVERDUE = "overdue", "Overdue"
    UNOWNED = "unowned", "Unowned"


HEALTH_TONES = {
    Health.ON_TRACK: "green",
    Health.DUE_SOON: "yellow",
    Health.OVERDUE: "red",
    Health.UNOWNED: "purple",
}


class ResponsibilityQuerySet(models.QuerySet):
    def active(self):
        return self.filter(active=True)

    def unowned(self):
        return self.filter(Q(owner__isnull=True) | Q(owner__is_active=False))

    def owned(self):
        return self.filter(owner__isnull=False, owner__is_active=True)

    def with_health(self, health: str, now: datetime):
        """Active rows whose computed health is ``health`` at ``now`` (same rules as ``health_at``)."""
        if health == Health.UNOWNED:
            return self.active().unowned()
        owned = self.active().owned()
        if health == Health.OVERDUE:
            return owned.filter(next_due_at__lt=now)
        if health == Health.DUE_SOON:
            return owned.filter(next_due_at__gte=now, due_soon_at__lte=now)
        if health == Health.ON_TRACK:
            return owned.filter(due_soon_at__gt=now)
        return self.none()


class Responsibility(models.Model):
    """One recurring operational duty: what done means, who does it, how often."""

    class Area(models.TextChoices):
        INCIDENT_TRIAGE = "incident_triage", "Incident triage"
        BACKLOG_HYGIENE = "backlog_hygiene", "Backlog hygiene"
        RUNBOOK_UPKEEP = "runbook_upkeep", "Runbook upkeep"
        RELEASE_MANAGEMENT = "release_management", "Release management"
        SUPPORT_ESCALATION = "support_escalation", "Support escalation path"
        POSTMORTEM_REVIEW = "postmortem_review", "Postmortem review"
        DEPENDENCY_UPGRADES = "dependency_upgrades", "Dependency upgrades"
        MAINTENANCE = "maintenance", "Maintenance"
        PRIORITISATION = "prioritisation", "Prioritisation"
        REVIEW_STANDARDS = "review_standards", "Review standards"
        DOCUMENTATION = "documentation", "Documentation upkeep"
        OTHER = "other", "Other (name it)"

    class Cadence(models.TextChoices):
        DAILY = engine.DAILY, "Daily"
        WEEKLY = engine.WEEKLY, "Weekly"
        FORTNIGHTLY = engine.FORTNIGHTLY, "Fortnightly"
        MONTHLY = engine.MONTHLY, "Monthly"
        QUARTERLY = engine.QUARTERLY, "Quarterly"
        CRON = engine.CRON, "Cron expression"

    title = models.CharField(max_length=120, help_text="e.g. Weekly incident triage")
    area = models.CharField(max_length=30, choices=Area.choices)
    area_other = models.CharField(
        max_length=60, blank=True, help_text="The area's name when it is none of the listed ones."
    )
    definition_of_done = models.TextField(
        help_text="What 'done' means each cycle: the checklist the owner confirms on check-in."
    )
    team = models.ForeignKey("catalog.Team", on_delete=models.PROTECT, related_name="responsibilities")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="owned_responsibilities",
        help_text="The one person who makes sure it happens each cycle.",
    )
    backup = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="backup_responsibilities",
        help_text="Steps in when the owner is away; reminded when the owner lets it slip.",
    )
    services = models.ManyToManyField(
        "catalog.Service", blank=True, related_name="responsibilities", help_text="Optional scope."
    )
    cadence = models.CharField(max_length=12, choices=Cadence.choices, default=Cadence.WEEKLY)
    first_due_on = models.DateField(
        help_text="Local date of the first due point; later ones follow the cadence "
        "(weekly: same weekday; monthly: same day, clamped to short months)."
    )
    due_time = models.TimeField(default=time(9, 0), help_text="Local wall-clock time each cycle is due.")
    cron_expression = models.CharField(
        max_length=100,
        blank=True,
        help_text="Only for the cron cadence, e.g. '0 9 * * 1-5' (weekdays 09:00).",
    )
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    remind_before = models.DurationField(
        null=True,
        blank=True,
        help_text="How long before the due point it counts as due soon; empty = a default for the cadence.",
    )
    active = models.BooleanField(
        default=True, help_text="Retired duties stay for the record but are not chased."
    )
    # Computed by operations.services from the cadence and the check-ins:
    next_due_at = models.DateTimeField(editable=False, help_text="Earliest due point not yet done.")
    due_soon_at = models.DateTimeField(editable=False)
    tracking_since = models.DateTimeField(editable=False, help_text="First due point of the current cadence.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ResponsibilityQuerySet.as_manager()
    history = HistoricalRecords(m2m_fields=[services])

    class Meta:
        ordering = ["team__name", "title"]
        verbose_name_plural = "responsibilities"
        constraints = [
            models.UniqueConstraint(fields=["team", "title"], name="%(app_label)s_%(class)s_unique_title"),
            models.CheckConstraint(
                condition=Q(owner__isnull=True) | Q(backup__isnull=True) | ~Q(owner=models.F("backup")),
                name="%(app_label)s_%(class)s_backup_not_owner",
            ),
            models.CheckConstraint(
                condition=Q(cadence="cron", cron_expression__gt="")
                | (~Q(cadence="cron") & Q(cron_expression="")),
                name="%(app_label)s_%(class)s_cron_iff_cron_cadence",
            ),
            models.CheckConstraint(
                condition=~Q(area="other") | Q(area_other__gt=""),
                name="%(app_label)s_%(class)s_other_area_named",
            ),
            models.CheckConstraint(
                condition=Q(due_soon_at__lte=models.F("next_due_at")),
                name="%(app_label)s_%(class)s_due_soon_before_due",
            ),
        ]
        indexes = [
            # reminder rules: active duties whose due point / due-soon point has passed
            models.Index(fields=["next_due_at"], condition=Q(active=True), name="operations_resp_due_active"),
            models.Index(
                fields=["due_soon_at"], condition=Q(active=True), name="operations_resp_soon_active"
            ),
            # bus factor and "my duties": duties per owner
            models.Index(fields=["owner", "active"], name="operations_resp_owner"),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("admin:operations_responsibility_change", args=[self.pk])

    @property
    def area_label(self) -> str:
        return (
            self.area_other if self.area == self.Area.OTHER and self.area_other else self.get_area_display()
        )

    def schedule(self) -> engine.Cadence:
        return engine.Cadence(
            kind=self.cadence,
            tz=self.time_zone,
            first_due_on=self.first_due_on,
            due_time=self.due_time,
            cron=self.cron_expression if self.cadence == self.Cadence.CRON else "",
        )

    @property
    def cadence_display(self) -> str:
        try:
            return self.schedule().describe()
        except ValueError:
            return self.get_cadence_display()

    def is_unowned(self) -> bool:
        return self.owner_id is None or not self.owner.is_active

    def health_at(self, now: datetime) -> str:
        if self.is_unowned():
            return Health.UNOWNED
        if now > self.next_due_at:
            return Health.OVERDUE
        if now >= self.due_soon_at:
            return Health.DUE_SOON
        return Health.ON_TRACK


class CheckIn(models.Model):
    """One cycle recorded as done (or done late): who, when, the evidence."""

    class Via(models.TextChoices):
        ADMIN = "admin", "Admin"
        API = "api", "API"
        LINK = "link", "Reminder link"

    responsibility = models.ForeignKey(Responsibility, on_delete=models.CASCADE, related_name="check_ins")
    done_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    done_at = models.DateTimeField(help_text="When the work was done.")
    note = models.TextField(blank=True, max_length=2000)
    evidence_url = URLField(max_length=500, blank=True, help_text="Link to the board, PR, doc or ticket.")
    covers_due_at = models.DateTimeField(help_text="The due point this check-in counts for.")
    late = models.BooleanField(default=False)
    missed_before = models.PositiveIntegerField(
        default=0, help_text="Due points skipped for good before the one this check-in covers."
    )
    via = models.CharField(max_length=10, choices=Via.choices, default=Via.ADMIN)
    recorded_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-done_at"]
        get_latest_by = "done_at"
        constraints = [
            # a due point is done once: two racing check-ins cannot both count for it
            models.UniqueConstraint(
                fields=["responsibility", "covers_due_at"], name="%(app_label)s_%(class)s_once_per_due_point"
            ),
        ]
        indexes = [
            # last_done_at / history of one duty, newest first
            models.Index(fields=["responsibility", "-done_at"], name="operations_checkin_latest"),
        ]

    def __str__(self) -> str:
        return f"{self.responsibility} done {self.done_at:%Y-%m-%d %H:%M}"
