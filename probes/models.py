"""Health probes: HTTP, TLS certificate, TCP and heartbeat (push) checks, their results,
state changes and alerts.

One ``Probe`` model with a ``kind`` field: the kinds share scheduling, the state machine and
alerting, and differ only in a handful of target fields (validated per kind in services).
Runtime columns (counters, lease, last result) change on every run through bulk/conditional
updates and are excluded from history; configuration changes are recorded.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.db import models
from django.db.models import Q
from django.urls import reverse
from simple_history.models import HistoricalRecords

from notifications.fields import EncryptedJSONField
from opsportal.fields import URLField

RUNTIME_FIELDS = [
    "state",
    "next_run_at",
    "lease_until",
    "lease_token",
    "consecutive_failures",
    "consecutive_successes",
    "last_checked_at",
    "last_ok_at",
    "first_failure_at",
    "last_error",
    "last_latency_ms",
    "last_status_code",
    "last_ping_at",
    "last_start_at",
    "last_duration_ms",
    "cert_expires_at",
    "cert_issuer",
    "cert_sans",
    "state_changed_at",
]


class Probe(models.Model):
    class Kind(models.TextChoices):
        HTTP = "http", "HTTP(S)"
        TLS = "tls", "TLS certificate"
        TCP = "tcp", "TCP connect"
        HEARTBEAT = "heartbeat", "Heartbeat (push)"

    class State(models.TextChoices):
        NEW = "new", "New (no verdict yet)"
        UP = "up", "Up"
        DEGRADED = "degraded", "Degraded"
        DOWN = "down", "Down"
        PAUSED = "paused", "Paused"

    class Method(models.TextChoices):
        GET = "GET", "GET"
        HEAD = "HEAD", "HEAD"
        POST = "POST", "POST"

    uuid = models.UUIDField(
        default=uuid.uuid4, unique=True, editable=False, help_text="Public id: heartbeat ping URLs use it."
    )
    name = models.CharField(max_length=150)
    service = models.ForeignKey("catalog.Service", on_delete=models.CASCADE, related_name="probes")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    state = models.CharField(max_length=10, choices=State.choices, default=State.NEW)
    description = models.TextField(blank=True)
    runbook = models.ForeignKey(
        "runbooks.Runbook",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="probes",
        help_text="What the responder does when this probe pages (readiness checks it is set).",
    )

    # Network probes: schedule and common target fields.
    interval_seconds = models.PositiveIntegerField(default=60, help_text="How often to run (network probes).")
    timeout_seconds = models.FloatField(default=10.0, help_text="Whole-check timeout in seconds.")
    host = models.CharField(max_length=253, blank=True, help_text="TLS and TCP probes: host name or IP.")
    port = models.PositiveIntegerField(null=True, blank=True, help_text="TLS (default 443) and TCP probes.")

    # HTTP(S).
    url = URLField(max_length=1000, blank=True)
    method = models.CharField(max_length=6, choices=Method.choices, default=Method.GET)
    # Often credentials (Authorization: Bearer ...): stored encrypted, only shown masked.
    headers = EncryptedJSONField(
        default=dict, blank=True, help_text="Request headers; stored encrypted, only shown masked."
    )
    request_body = models.TextField(blank=True, help_text="Body for POST probes.")
    expected_statuses = models.CharField(
        max_length=100, default="200-399", help_text='Accepted status codes, e.g. "200", "200-299,301".'
    )
    body_contains = models.CharField(max_length=500, blank=True, help_text="Text the body must contain.")
    json_path = models.CharField(
        max_length=200, blank=True, help_text='Dotted path into a JSON body, e.g. "status" or "checks.0.ok".'
    )
    json_expected = models.CharField(max_length=500, blank=True, help_text="Expected value at the JSON path.")
    latency_threshold_ms = models.PositiveIntegerField(
        null=True, blank=True, help_text="Degraded when a successful check is slower than this."
    )
    follow_redirects = models.BooleanField(default=True)

    # TLS certificate.
    sni_name = models.CharField(
        max_length=253, blank=True, help_text="Server name to send; defaults to host."
    )
    warn_days = models.PositiveIntegerField(default=21, help_text="Degraded when expiring within N days.")
    critical_days = models.PositiveIntegerField(default=7, help_text="Failing when expiring within M days.")

    # Heartbeat (push).
    period_seconds = models.PositiveIntegerField(
        null=True, blank=True, help_text="Expected time between pings (or use a cron expression)."
    )
    cron = models.CharField(max_length=100, blank=True, help_text='e.g. "*/15 * * * *"; wins over period.')
    cron_timezone = models.CharField(max_length=64, default="UTC")
    grace_seconds = models.PositiveIntegerField(default=300, help_text="Lateness tolerated before down.")

    # Flap suppression.
    failure_threshold = models.PositiveSmallIntegerField(
        default=2, help_text="Consecutive failures before down (K)."
    )
    success_threshold = models.PositiveSmallIntegerField(
        default=1, help_text="Consecutive successes before back up (J)."
    )

    # Alerting.
    incident_severity = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="Open an incident of this severity level when down (1 = SEV-1); blank: page only.",
    )

    # Runtime (not in history).
    next_run_at = models.DateTimeField(
        null=True, blank=True, help_text="Network probes: next run. Heartbeats: late after this instant."
    )
    lease_until = models.DateTimeField(null=True, blank=True)
    lease_token = models.UUIDField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    consecutive_successes = models.PositiveIntegerField(default=0)
    state_changed_at = models.DateTimeField(null=True, blank=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    last_ok_at = models.DateTimeField(null=True, blank=True)
    first_failure_at = models.DateTimeField(
        null=True, blank=True, help_text="First failing result of the current failure streak."
    )
    last_error = models.CharField(max_length=500, blank=True)
    last_latency_ms = models.FloatField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_ping_at = models.DateTimeField(null=True, blank=True)
    last_start_at = models.DateTimeField(null=True, blank=True)
    last_duration_ms = models.FloatField(null=True, blank=True)
    cert_expires_at = models.DateTimeField(null=True, blank=True)
    cert_issuer = models.CharField(max_length=300, blank=True)
    cert_sans = models.JSONField(default=list, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(excluded_fields=RUNTIME_FIELDS)

    class Meta:
        ordering = ["name"]
        # Operating a probe (pause, resume, run now) is a responder's job; changing what it
        # checks (URL, interval, headers) is a manager's (change_probe).
        permissions = [("operate_probe", "Can pause, resume and run probes")]
        constraints = [
            models.CheckConstraint(
                condition=Q(timeout_seconds__gt=0) & Q(timeout_seconds__lte=120),
                name="%(app_label)s_%(class)s_timeout_range",
            ),
            models.CheckConstraint(
                condition=Q(interval_seconds__gte=10), name="%(app_label)s_%(class)s_interval_min"
            ),
            models.CheckConstraint(
                condition=Q(failure_threshold__gte=1) & Q(success_threshold__gte=1),
                name="%(app_label)s_%(class)s_thresholds_positive",
            ),
            models.CheckConstraint(
                condition=Q(critical_days__lte=models.F("warn_days")),
                name="%(app_label)s_%(class)s_critical_within_warn",
            ),
        ]
        indexes = [
            # The dispatcher tick: "due probes" = next_run_at <= now, never paused. Partial so
            # paused and never-pinged heartbeats stay out of the index.
            models.Index(
                fields=["next_run_at"],
                name="probes_probe_due",
                condition=Q(next_run_at__isnull=False) & ~Q(state="paused"),
            ),
            # Probes of a service (service page, dependency grouping).
            models.Index(fields=["service", "state"], name="probes_probe_service_state"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("admin:probes_probe_change", args=[self.pk])

    @property
    def is_network(self) -> bool:
        return self.kind != self.Kind.HEARTBEAT

    @property
    def effective_port(self) -> int | None:
        if self.port:
            return self.port
        return 443 if self.kind == self.Kind.TLS else None

    def lease_length(self) -> timedelta:
        """How long a run may hold the probe: its own timeout plus a margin for storing."""
        return timedelta(seconds=self.timeout_seconds + 30)


class ProbeResult(models.Model):
    class Outcome(models.TextChoices):
        UP = "up", "Up"
        DEGRADED = "degraded", "Degraded"
        DOWN = "down", "Down"

    class Source(models.TextChoices):
        CHECK = "check", "Scheduled check"
        PING = "ping", "Ping (success)"
        START = "start", "Ping (start)"
        FAIL = "fail", "Ping (failure)"
        LATE = "late", "Heartbeat late"

    id = models.BigAutoField(primary_key=True)
    probe = models.ForeignKey(Probe, on_delete=models.CASCADE, related_name="results")
    checked_at = models.DateTimeField()
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    ok = models.BooleanField(help_text="Up or degraded: counts as available for uptime.")
    source = models.CharField(max_length=6, choices=Source.choices, default=Source.CHECK)
    latency_ms = models.FloatField(null=True, blank=True, help_text="Heartbeats: start-to-success duration.")
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-checked_at"]
        indexes = [
            # Recent results of a probe, uptime and latency percentiles over a window.
            models.Index(fields=["probe", "checked_at"], name="probes_result_probe_time"),
            # The retention task: DELETE ... WHERE checked_at < cutoff.
            models.Index(fields=["checked_at"], name="probes_result_time"),
        ]

    def __str__(self) -> str:
        return f"{self.probe_id} {self.outcome} at {self.checked_at:%Y-%m-%d %H:%M:%S}"


class ProbeEvent(models.Model):
    """A state change (the probe's flip log)."""

    probe = models.ForeignKey(Probe, on_delete=models.CASCADE, related_name="events")
    created_at = models.DateTimeField()
    from_state = models.CharField(max_length=10, choices=Probe.State.choices)
    to_state = models.CharField(max_length=10, choices=Probe.State.choices)
    reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # Recent events of a probe (change page, API).
            models.Index(fields=["probe", "created_at"], name="probes_event_probe_time"),
        ]

    def __str__(self) -> str:
        return f"{self.probe_id}: {self.from_state} -> {self.to_state}"


class ProbeAlert(models.Model):
    """One alert per down period of a probe. Pages (or not: silenced, grouped) once."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"

    class Disposition(models.TextChoices):
        PAGED = "paged", "Paged on-call"
        SILENCED = "silenced", "Silenced by maintenance window"
        GROUPED = "grouped", "Grouped under a dependency's alert"
        PENDING = "pending", "Paging not available"

    probe = models.ForeignKey(Probe, on_delete=models.CASCADE, related_name="alerts")
    service = models.ForeignKey("catalog.Service", on_delete=models.CASCADE, related_name="probe_alerts")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    disposition = models.CharField(max_length=10, choices=Disposition.choices)
    grouped_under = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="grouped_alerts",
        help_text="The alert of a depended-on service that explains this one.",
    )
    summary = models.CharField(max_length=500, blank=True)
    opened_at = models.DateTimeField()
    detected_at = models.DateTimeField(help_text="First failing result.")
    started_at = models.DateTimeField(help_text="Last success before the failures (or the first failure).")
    resolved_at = models.DateTimeField(null=True, blank=True)
    page_id = models.BigIntegerField(null=True, blank=True, help_text="oncall Page opened for this alert.")
    incident_id = models.BigIntegerField(null=True, blank=True, help_text="Incident opened or updated.")

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["probe"],
                condition=Q(status="open"),
                name="%(app_label)s_%(class)s_one_open_per_probe",
            ),
            models.CheckConstraint(
                condition=Q(status="open", resolved_at__isnull=True)
                | Q(status="resolved", resolved_at__isnull=False),
                name="%(app_label)s_%(class)s_resolved_has_time",
            ),
        ]
        indexes = [
            # Open alerts of the services a probe's service depends on (dependency grouping).
            models.Index(fields=["service"], name="probes_alert_open_service", condition=Q(status="open")),
        ]

    def __str__(self) -> str:
        return f"{self.probe} ({self.get_status_display()})"

    def get_absolute_url(self) -> str:
        return reverse("admin:probes_probealert_change", args=[self.pk])


class MaintenanceWindow(models.Model):
    """Silences alerts of a service or one probe (results are still recorded).

    One-off: ``starts_at``..``ends_at``. Recurring: a cron expression in a time zone for the
    start plus a duration, active between ``starts_at`` and ``ends_at`` (open-ended if blank).
    """

    service = models.ForeignKey(
        "catalog.Service", on_delete=models.CASCADE, null=True, blank=True, related_name="maintenance_windows"
    )
    probe = models.ForeignKey(
        Probe, on_delete=models.CASCADE, null=True, blank=True, related_name="maintenance_windows"
    )
    reason = models.CharField(max_length=200)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField(null=True, blank=True, help_text="Required for one-off windows.")
    recurrence_cron = models.CharField(
        max_length=100, blank=True, help_text='Recurring: when each window starts, e.g. "0 2 * * SUN".'
    )
    recurrence_timezone = models.CharField(max_length=64, default="UTC")
    duration_minutes = models.PositiveIntegerField(
        null=True, blank=True, help_text="Recurring: length of each window."
    )
    created_by = models.ForeignKey(
        "accounts.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(service__isnull=False, probe__isnull=True)
                | Q(service__isnull=True, probe__isnull=False),
                name="%(app_label)s_%(class)s_one_target",
            ),
            models.CheckConstraint(
                condition=Q(recurrence_cron="", ends_at__isnull=False)
                | (~Q(recurrence_cron="") & Q(duration_minutes__gt=0)),
                name="%(app_label)s_%(class)s_oneoff_or_recurring",
            ),
            models.CheckConstraint(
                condition=Q(ends_at__isnull=True) | Q(ends_at__gt=models.F("starts_at")),
                name="%(app_label)s_%(class)s_ends_after_start",
            ),
        ]
        indexes = [
            # Windows of a service / probe when an alert opens.
            models.Index(fields=["service", "starts_at"], name="probes_maint_service"),
            models.Index(fields=["probe", "starts_at"], name="probes_maint_probe"),
        ]

    def __str__(self) -> str:
        return self.reason
