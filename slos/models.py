"""Service level objectives, their per-minute/per-hour SLI rollups and burn-rate alerts.

An SLO counts *events*: each minute of its SLI is a pair of counters (good, total) in
:class:`SLIMinute`, summed per hour into :class:`SLIHour` so that budgets over 28 days read
672 hour rows plus at most 118 edge minutes per SLO instead of 40,320 minutes. Budgets and burn
rates never scan raw probe results (``docs/slos.md``: "Rollups").
"""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from simple_history.models import HistoricalRecords

# The Google SRE workbook's multi-window, multi-burn-rate defaults ("Alerting on SLOs",
# table 5-8): page 14.4x over 1 h and 5 min, 6x over 6 h and 30 min; ticket 1x over 3 days
# and 6 h. Each SLO keeps its own editable copy.
DEFAULT_BURN_RULES = [
    {"severity": "page", "factor": 14.4, "long_minutes": 60, "short_minutes": 5},
    {"severity": "page", "factor": 6.0, "long_minutes": 360, "short_minutes": 30},
    {"severity": "ticket", "factor": 1.0, "long_minutes": 4320, "short_minutes": 360},
]


def default_burn_rules() -> list[dict]:
    return [dict(rule) for rule in DEFAULT_BURN_RULES]


class SLO(models.Model):
    class Kind(models.TextChoices):
        PROBE_AVAILABILITY = "probe_availability", "Probe availability"
        PROBE_LATENCY = "probe_latency", "Probe latency"
        PROMETHEUS_RATIO = "prometheus_ratio", "Prometheus ratio"
        PUSHED_EVENTS = "pushed_events", "Events pushed by API"

    class Window(models.TextChoices):
        DAYS_7 = "7d", "Rolling 7 days"
        DAYS_28 = "28d", "Rolling 28 days"
        DAYS_30 = "30d", "Rolling 30 days"
        MONTH = "month", "Calendar month (UTC)"

    service = models.ForeignKey("catalog.Service", on_delete=models.CASCADE, related_name="slos")
    name = models.CharField(max_length=150)
    kind = models.CharField("SLI kind", max_length=20, choices=Kind.choices)
    objective = models.DecimalField(
        max_digits=7,
        decimal_places=4,
        validators=[MinValueValidator(Decimal("50")), MaxValueValidator(Decimal("100"))],
        help_text="Target percentage of good events, e.g. 99.9.",
    )
    window = models.CharField(max_length=5, choices=Window.choices, default=Window.DAYS_28)
    owner_team = models.ForeignKey("catalog.Team", on_delete=models.PROTECT, related_name="slos")
    description = models.TextField(help_text='What "good" means, in words a responder understands.')
    probes = models.ManyToManyField(
        "probes.Probe",
        blank=True,
        related_name="slos",
        help_text="Probe SLIs: the probes whose checks count.",
    )
    degraded_is_good = models.BooleanField(
        default=True, help_text="Probe availability: a degraded check counts as good (else bad)."
    )
    latency_threshold_ms = models.PositiveIntegerField(
        null=True, blank=True, help_text="Probe latency: a check faster than this many ms is good."
    )
    prometheus_good_query = models.TextField(
        blank=True, help_text="Prometheus ratio: PromQL for the cumulative count of good events."
    )
    prometheus_total_query = models.TextField(
        blank=True, help_text="Prometheus ratio: PromQL for the cumulative count of all events."
    )
    burn_rules = models.JSONField(
        default=default_burn_rules,
        help_text="Burn-rate alert pairs: severity (page/ticket), factor, long_minutes, short_minutes.",
    )
    open_incident = models.BooleanField(
        default=False, help_text="A page-level burn also declares an incident (detection source SLO)."
    )
    incident_severity = models.PositiveSmallIntegerField(
        default=2,
        validators=[MinValueValidator(1), MaxValueValidator(5)],
        help_text="Severity level (1 = SEV-1).",
    )
    is_active = models.BooleanField(default=True)
    prometheus_synced_until = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="Prometheus SLIs: minutes up to here are rolled up."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(excluded_fields=["prometheus_synced_until", "updated_at"])

    class Meta:
        verbose_name = "SLO"
        verbose_name_plural = "SLOs"
        ordering = ["service__name", "name"]
        permissions = [("push_slo_events", "Can push good/total event counts to an SLO")]
        constraints = [
            models.UniqueConstraint(fields=["service", "name"], name="%(app_label)s_%(class)s_unique_name"),
            models.CheckConstraint(
                condition=Q(objective__gte=50) & Q(objective__lte=100),
                name="%(app_label)s_%(class)s_objective_range",
            ),
            models.CheckConstraint(
                condition=~Q(kind="probe_latency") | Q(latency_threshold_ms__gt=0),
                name="%(app_label)s_%(class)s_latency_needs_threshold",
            ),
            models.CheckConstraint(
                condition=~Q(kind="prometheus_ratio")
                | (~Q(prometheus_good_query="") & ~Q(prometheus_total_query="")),
                name="%(app_label)s_%(class)s_prometheus_needs_queries",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.service.slug}: {self.name}" if self.service_id else self.name

    def get_absolute_url(self) -> str:
        return reverse("admin:slos_slo_change", args=[self.pk])

    @property
    def uses_probes(self) -> bool:
        return self.kind in (self.Kind.PROBE_AVAILABILITY, self.Kind.PROBE_LATENCY)


class SLIMinute(models.Model):  # noqa: DJ008 - counter rows, never shown
    """Good/total events of one SLO in the minute starting at ``minute``."""

    id = models.BigAutoField(primary_key=True)
    slo = models.ForeignKey(SLO, on_delete=models.CASCADE, related_name="+")
    minute = models.DateTimeField()
    good = models.BigIntegerField()
    total = models.BigIntegerField()

    class Meta:
        constraints = [
            # Also the index of every window sum: (slo, minute range).
            models.UniqueConstraint(fields=["slo", "minute"], name="%(app_label)s_%(class)s_one_per_minute"),
            models.CheckConstraint(
                condition=Q(good__gte=0) & Q(good__lte=models.F("total")),
                name="%(app_label)s_%(class)s_counts",
            ),
        ]


class SLIHour(models.Model):  # noqa: DJ008 - counter rows, never shown
    """The sum of an SLO's minutes in the hour starting at ``hour`` (kept by the same writes)."""

    id = models.BigAutoField(primary_key=True)
    slo = models.ForeignKey(SLO, on_delete=models.CASCADE, related_name="+")
    hour = models.DateTimeField()
    good = models.BigIntegerField()
    total = models.BigIntegerField()

    class Meta:
        constraints = [
            # Also the index of the budget sums: (slo, hour range).
            models.UniqueConstraint(fields=["slo", "hour"], name="%(app_label)s_%(class)s_one_per_hour"),
            models.CheckConstraint(
                condition=Q(good__gte=0) & Q(good__lte=models.F("total")),
                name="%(app_label)s_%(class)s_counts",
            ),
        ]


class BurnAlert(models.Model):
    """One burn of an SLO's error budget at one severity: opened by the sweep when a rule's long
    and short windows both burn faster than its factor, resolved when no rule of the severity
    fires any more. A re-fire while the last alert's burn start is still inside the firing
    rule's long window reopens that alert (same burn: no second page)."""

    class Severity(models.TextChoices):
        PAGE = "page", "Page"
        TICKET = "ticket", "Ticket"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"

    slo = models.ForeignKey(SLO, on_delete=models.CASCADE, related_name="burn_alerts")
    severity = models.CharField(max_length=6, choices=Severity.choices)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    factor = models.FloatField(help_text="The threshold of the rule that fired.")
    long_minutes = models.PositiveIntegerField()
    short_minutes = models.PositiveIntegerField()
    burn_rate_long = models.FloatField(
        null=True, help_text="Long-window burn rate when it fired (null: infinite)."
    )
    burn_rate_short = models.FloatField(null=True)
    budget_remaining = models.FloatField(null=True, help_text="Fraction of the budget left when it fired.")
    burn_started_at = models.DateTimeField(help_text="When the burn began (first minute of the hot run).")
    detected_at = models.DateTimeField(help_text="When the sweep saw both windows breach.")
    resolved_at = models.DateTimeField(null=True, blank=True)
    refired_count = models.PositiveIntegerField(default=0)
    page = models.ForeignKey(
        "oncall.Page", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    incident = models.ForeignKey(
        "incidents.Incident", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-detected_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["slo", "severity"],
                condition=Q(status="open"),
                name="%(app_label)s_%(class)s_one_open_per_severity",
            ),
            models.CheckConstraint(
                condition=Q(status="open", resolved_at__isnull=True)
                | Q(status="resolved", resolved_at__isnull=False),
                name="%(app_label)s_%(class)s_resolved_has_time",
            ),
        ]
        indexes = [
            # The alert list and "last alert of this severity" on each sweep.
            models.Index(fields=["slo", "severity", "-detected_at"], name="slos_burn_slo_sev_time"),
        ]

    def __str__(self) -> str:
        return f"{self.slo} {self.get_severity_display().lower()} burn at {self.detected_at:%Y-%m-%d %H:%M}"

    def get_absolute_url(self) -> str:
        return reverse("admin:slos_burnalert_change", args=[self.pk])
