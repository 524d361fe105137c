"""Schedules (rotation layers, overrides), escalation policies and pages.

Definitions live here; the arithmetic lives in ``oncall/rotation.py`` (no ORM) and every write
in ``oncall/services.py``.
"""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, time

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from simple_history.models import HistoricalRecords

from accounts.models import validate_time_zone
from opsportal.fields import URLField

WEEKDAYS = [(0, "Mon"), (1, "Tue"), (2, "Wed"), (3, "Thu"), (4, "Fri"), (5, "Sat"), (6, "Sun")]


def new_token() -> str:
    return secrets.token_urlsafe(32)


class Schedule(models.Model):
    team = models.ForeignKey("catalog.Team", on_delete=models.PROTECT, related_name="schedules")
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    time_zone = models.CharField(
        max_length=64,
        default="UTC",
        validators=[validate_time_zone],
        help_text="IANA zone of the handoff wall times and restrictions (e.g. Europe/Berlin).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["team__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["team", "name"], name="%(app_label)s_%(class)s_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("admin:oncall_schedule_change", args=[self.pk])


class RotationLayer(models.Model):
    class Unit(models.TextChoices):
        HOURS = "hours", "hours"
        DAYS = "days", "days"
        WEEKS = "weeks", "weeks"

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="layers")
    name = models.CharField(max_length=100, default="Primary")
    position = models.PositiveSmallIntegerField(
        default=1, help_text="Layers with a higher position sit on top of lower ones."
    )
    rotation_length = models.PositiveSmallIntegerField(default=1, validators=[MinValueValidator(1)])
    rotation_unit = models.CharField(max_length=5, choices=Unit.choices, default=Unit.WEEKS)
    start_date = models.DateField(help_text="Local date of the first handoff.")
    handoff_time = models.TimeField(default=time(9, 0), help_text="Local wall-clock time of each handoff.")
    end_at = models.DateTimeField(null=True, blank=True, help_text="Optional: the layer stops here.")
    participants = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="LayerMember", related_name="rotation_layers", blank=True
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["schedule", "position", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["schedule", "position"], name="%(app_label)s_%(class)s_unique_position"
            ),
            models.CheckConstraint(
                condition=Q(rotation_length__gte=1), name="%(app_label)s_%(class)s_length"
            ),
            # The years 2000-2100 (oncall.services.LAYER_FIRST_DAY/LAST_DAY): shift expansion
            # never overflows a date.
            models.CheckConstraint(
                condition=Q(start_date__gte=date(2000, 1, 1), start_date__lte=date(2100, 12, 31)),
                name="%(app_label)s_%(class)s_start_date_range",
            ),
            models.CheckConstraint(
                condition=Q(end_at__isnull=True) | Q(end_at__lt=datetime(2101, 1, 1, tzinfo=UTC)),
                name="%(app_label)s_%(class)s_end_at_range",
            ),
            # The end is after the start date began (midnight UTC: the zone lives on the
            # schedule). The service asks more: after the first handoff in the schedule's zone.
            models.CheckConstraint(
                condition=Q(end_at__isnull=True) | Q(end_at__gt=F("start_date")),
                name="%(app_label)s_%(class)s_end_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} (every {self.rotation_length} {self.rotation_unit})"


class LayerMember(models.Model):
    layer = models.ForeignKey(RotationLayer, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveSmallIntegerField(default=0)

    history = HistoricalRecords()

    class Meta:
        ordering = ["layer", "position", "pk"]
        verbose_name = "participant"
        constraints = [
            models.UniqueConstraint(
                fields=["layer", "position"], name="%(app_label)s_%(class)s_unique_position"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.position}. {self.user}"


class LayerRestriction(models.Model):
    """Limits a layer to a weekly window, e.g. weekdays 09:00-17:00 (end <= start crosses
    midnight; end == start is the whole day)."""

    layer = models.ForeignKey(RotationLayer, on_delete=models.CASCADE, related_name="restrictions")
    weekdays = models.CharField(
        max_length=7, default="01234", help_text="Days as digits, 0 = Monday (e.g. 01234 = Mon-Fri)."
    )
    start_time = models.TimeField(default=time(9, 0))
    end_time = models.TimeField(default=time(17, 0))

    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(weekdays__regex=r"^[0-6]{1,7}$"), name="%(app_label)s_%(class)s_weekdays"
            ),
        ]

    def __str__(self) -> str:
        days = ", ".join(label for n, label in WEEKDAYS if str(n) in self.weekdays)
        return f"{days} {self.start_time:%H:%M}-{self.end_time:%H:%M}"

    @property
    def weekday_set(self) -> frozenset[int]:
        return frozenset(int(c) for c in self.weekdays)


class Override(models.Model):
    class Kind(models.TextChoices):
        OVERRIDE = "override", "Override"
        SWAP = "swap", "Swap"

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="overrides")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="oncall_overrides",
        help_text="Who is on call instead.",
    )  # fmt: skip
    start = models.DateTimeField()
    end = models.DateTimeField()
    reason = models.CharField(max_length=200, blank=True)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.OVERRIDE)
    covers = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Swaps: the person whose shift is being covered.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["schedule", "start", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end__gt=F("start")), name="%(app_label)s_%(class)s_end_after_start"
            ),
            models.CheckConstraint(
                condition=Q(kind="override") | Q(covers__isnull=False),
                name="%(app_label)s_%(class)s_swap_names_both",
            ),
        ]
        indexes = [
            # overrides of a schedule overlapping a window: schedule=? AND end > ? AND start < ?
            models.Index(fields=["schedule", "end"], name="oncall_override_sched_end"),
        ]

    def __str__(self) -> str:
        if self.kind == self.Kind.SWAP:
            return f"{self.user} covers {self.covers}"
        return f"{self.user} on call"


class CalendarFeed(models.Model):
    """An unguessable, revocable iCal URL for one schedule or one person."""

    token = models.CharField(max_length=64, unique=True, default=new_token, editable=False)
    schedule = models.ForeignKey(
        Schedule, on_delete=models.CASCADE, null=True, blank=True, related_name="feeds"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="oncall_feeds"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "calendar feed"
        constraints = [
            models.CheckConstraint(
                condition=Q(schedule__isnull=True, user__isnull=False)
                | Q(schedule__isnull=False, user__isnull=True),
                name="%(app_label)s_%(class)s_one_subject",
            ),
        ]

    def __str__(self) -> str:
        return f"iCal feed of {self.schedule or self.user}"

    @property
    def path(self) -> str:
        return reverse("oncall:ical", args=[self.token])


class EscalationPolicy(models.Model):
    team = models.ForeignKey("catalog.Team", on_delete=models.PROTECT, related_name="escalation_policies")
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    repeat = models.PositiveSmallIntegerField(
        default=0,
        validators=[MaxValueValidator(9)],
        help_text="Run the whole policy again up to N more times.",
    )
    is_team_default = models.BooleanField(
        default=False, help_text="Used for every service of the team without its own policy."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name_plural = "escalation policies"
        ordering = ["team__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["team", "name"], name="%(app_label)s_%(class)s_unique_name"),
            models.UniqueConstraint(
                fields=["team"], condition=Q(is_team_default=True), name="%(app_label)s_%(class)s_one_default"
            ),
            models.CheckConstraint(condition=Q(repeat__lte=9), name="%(app_label)s_%(class)s_repeat"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("admin:oncall_escalationpolicy_change", args=[self.pk])


class EscalationLevel(models.Model):
    policy = models.ForeignKey(EscalationPolicy, on_delete=models.CASCADE, related_name="levels")
    position = models.PositiveSmallIntegerField(default=1)
    delay_minutes = models.PositiveIntegerField(
        default=15, validators=[MinValueValidator(1)], help_text="Minutes before moving to the next level."
    )
    schedules = models.ManyToManyField(Schedule, blank=True, related_name="escalation_levels")
    include_next_on_call = models.BooleanField(
        default=False, help_text="Also notify whoever is on call next on these schedules."
    )
    users = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")

    history = HistoricalRecords(m2m_fields=[schedules, users])

    class Meta:
        ordering = ["policy", "position", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["policy", "position"], name="%(app_label)s_%(class)s_unique_position"
            ),
            models.CheckConstraint(condition=Q(delay_minutes__gte=1), name="%(app_label)s_%(class)s_delay"),
        ]

    def __str__(self) -> str:
        return f"Level {self.position}"


class ServicePolicy(models.Model):
    """A service's own escalation policy (catalog sits below oncall, so the link lives here).
    Services without one use their owner team's default policy."""

    service = models.OneToOneField("catalog.Service", on_delete=models.CASCADE, related_name="escalation")
    policy = models.ForeignKey(EscalationPolicy, on_delete=models.PROTECT, related_name="services")
    ack_timeout_minutes = models.PositiveIntegerField(
        null=True, blank=True, help_text="Re-notify when a page stays acknowledged but unresolved this long."
    )

    history = HistoricalRecords()

    class Meta:
        verbose_name = "service escalation policy"
        verbose_name_plural = "service escalation policies"

    def __str__(self) -> str:
        return f"{self.service} -> {self.policy}"


class Page(models.Model):
    class Status(models.TextChoices):
        TRIGGERED = "triggered", "Triggered"
        EXHAUSTED = "exhausted", "Exhausted (nobody acknowledged)"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        RESOLVED = "resolved", "Resolved"

    OPEN = (Status.TRIGGERED, Status.EXHAUSTED, Status.ACKNOWLEDGED)

    title = models.CharField(max_length=200)
    summary = models.TextField(blank=True)
    url = URLField(max_length=500, blank=True)
    service = models.ForeignKey(
        "catalog.Service", on_delete=models.SET_NULL, null=True, blank=True, related_name="pages"
    )
    policy = models.ForeignKey(
        EscalationPolicy, on_delete=models.SET_NULL, null=True, blank=True, related_name="pages"
    )
    policy_snapshot = models.JSONField(default=dict, help_text="The policy as it was when the page opened.")
    subject_type = models.ForeignKey(ContentType, on_delete=models.SET_NULL, null=True, blank=True)
    subject_id = models.CharField(max_length=64, blank=True)
    subject = GenericForeignKey("subject_type", "subject_id")
    dedup_key = models.CharField(max_length=200)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.TRIGGERED)
    round = models.PositiveIntegerField(
        default=0, help_text="Escalation restarts (acknowledgement timeouts)."
    )
    step = models.PositiveIntegerField(default=0, help_text="Index of the last notified step of this round.")
    step_token = models.CharField(max_length=32, blank=True)
    next_step_at = models.DateTimeField(null=True, blank=True)
    ack_timeout = models.DurationField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_via = models.CharField(max_length=20, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolve_reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            # a repeated open with the same key returns the open page instead of a second one
            models.UniqueConstraint(
                fields=["dedup_key"],
                condition=Q(status__in=["triggered", "exhausted", "acknowledged"]),
                name="%(app_label)s_%(class)s_one_open_per_key",
            ),
        ]
        indexes = [
            # the auditor: status IN (triggered, acknowledged) AND next_step_at < now
            models.Index(
                fields=["next_step_at"],
                condition=Q(status__in=["triggered", "acknowledged"], next_step_at__isnull=False),
                name="oncall_page_due",
            ),
            # pages of a subject (an incident's pages)
            models.Index(fields=["subject_type", "subject_id"], name="oncall_page_subject"),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("admin:oncall_page_change", args=[self.pk])

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN


class PageEvent(models.Model):
    """The page's trail: triggered, each notification (who, which level), skips, escalations,
    acknowledgement, exhaustion, resolution."""

    class Kind(models.TextChoices):
        TRIGGERED = "triggered", "Triggered"
        NOTIFIED = "notified", "Notified"
        SKIPPED = "skipped", "Level skipped (nobody to notify)"
        ESCALATED = "escalated", "Escalated"
        EXHAUSTED = "exhausted", "Policy exhausted"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        RENOTIFIED = "renotified", "Acknowledgement timed out"
        RESOLVED = "resolved", "Resolved"

    page = models.ForeignKey(Page, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField()
    kind = models.CharField(max_length=12, choices=Kind.choices)
    level = models.PositiveSmallIntegerField(null=True, blank=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["page", "at", "pk"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} at {self.at:%Y-%m-%d %H:%M}"
