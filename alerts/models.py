"""Alert ingestion: integrations (a secret URL per source), alerts, alert groups, raw payloads.

An *integration* belongs to a service and has a kind (Alertmanager, Grafana, PagerDuty Events
v2, generic JSON, e-mail) and a secret key: the ingestion URL is ``/integrations/<key>/...``
and the e-mail address ``<key>@<ALERTS_EMAIL_DOMAIN>``. Only the key's SHA-256 digest is
stored (plus a short hint); the key is shown once, when created or rotated.

An *alert* is one problem a source reports, de-duplicated per integration by its key (the
Alertmanager fingerprint, the PagerDuty ``dedup_key``...): repeated triggers update it. Alerts
fold into an *alert group* (per integration, by group key); the group is what pages, opens
incidents and is acknowledged/resolved. Every request body is kept as a *raw payload*, parsed
or not, for ``ALERTS_PAYLOAD_RETENTION_DAYS``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse


class Urgency(models.TextChoices):
    INCIDENT = "incident", "Page and open an incident"
    PAGE = "page", "Page on-call"
    NOTIFY = "notify", "Notify the owner team (no page)"
    RECORD = "record", "Record only"
    DROP = "drop", "Drop"


class Severity(models.TextChoices):
    CRITICAL = "critical", "Critical"
    ERROR = "error", "Error"
    WARNING = "warning", "Warning"
    INFO = "info", "Info"


DEFAULT_SEVERITY_MAP = {
    Severity.CRITICAL: Urgency.PAGE,
    Severity.ERROR: Urgency.PAGE,
    Severity.WARNING: Urgency.NOTIFY,
    Severity.INFO: Urgency.RECORD,
}


class Integration(models.Model):
    class Kind(models.TextChoices):
        ALERTMANAGER = "alertmanager", "Prometheus Alertmanager"
        GRAFANA = "grafana", "Grafana alerting"
        PAGERDUTY = "pagerduty", "PagerDuty Events API v2 compatible"
        GENERIC = "generic", "Generic JSON"
        EMAIL = "email", "E-mail"

    service = models.ForeignKey(
        "catalog.Service", on_delete=models.PROTECT, related_name="alert_integrations"
    )
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    key_digest = models.CharField(max_length=64, unique=True, editable=False)
    key_hint = models.CharField(max_length=12, editable=False, help_text="The key's first characters.")
    rules = models.JSONField(
        default=list,
        blank=True,
        help_text=(
            "Ordered routing rules, first match wins: a list of objects "
            '{"match": {"severity": "critical", "labels": {"team": "db"}}, "urgency": "page", '
            '"service": <id>, "policy": <id>, "incident_severity": <1-4>}. See docs/alerts.md.'
        ),
    )
    severity_map = models.JSONField(
        default=dict,
        blank=True,
        help_text='Urgency per severity when no rule matches, e.g. {"critical": "incident", "warning": "notify"}. '
        "Missing severities: critical/error page, warning notifies, info records.",
    )
    incident_severity = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="SEV level (1-4) of incidents opened with urgency 'incident'."
    )
    group_by = models.CharField(
        max_length=200,
        blank=True,
        help_text="Comma-separated labels whose values group alerts. Blank: Alertmanager's groupKey, "
        "else the alert's de-duplication key.",
    )
    field_mapping = models.JSONField(
        default=dict,
        blank=True,
        help_text='Generic JSON only: where each field is, e.g. {"dedup_key": "$.id", "summary": "$.title", '
        '"status": "$.state", "severity": "$.level", "labels": "$.tags"}.',
    )
    rate_limit_per_minute = models.PositiveIntegerField(default=600)
    storm_threshold = models.PositiveSmallIntegerField(
        default=10, help_text="More new paging groups than this per minute on the service: one storm page."
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    rotated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["service__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["service", "name"], name="%(app_label)s_%(class)s_unique_name"),
            models.CheckConstraint(
                condition=Q(incident_severity__isnull=True)
                | Q(incident_severity__gte=1, incident_severity__lte=4),
                name="%(app_label)s_%(class)s_incident_severity",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

    def get_absolute_url(self) -> str:
        return reverse("admin:alerts_integration_change", args=[self.pk])

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class AlertGroup(models.Model):
    class Status(models.TextChoices):
        FIRING = "firing", "Firing"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        RESOLVED = "resolved", "Resolved"

    class Disposition(models.TextChoices):
        PAGED = "paged", "Paged on-call"
        INCIDENT = "incident", "Incident"
        ATTACHED = "attached", "Attached to the open incident"
        STORM = "storm", "Folded into the storm page"
        NOTIFIED = "notified", "Notified the owner team"
        RECORDED = "recorded", "Recorded only"
        SILENCED = "silenced", "Silenced (maintenance window)"
        UNPAGED = "unpaged", "No page (no escalation policy)"

    OPEN = (Status.FIRING, Status.ACKNOWLEDGED)

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="groups")
    service = models.ForeignKey("catalog.Service", on_delete=models.CASCADE, related_name="alert_groups")
    group_key = models.CharField(max_length=255)
    title = models.CharField(max_length=300)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.CRITICAL)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.FIRING)
    urgency = models.CharField(max_length=10, choices=Urgency.choices)
    disposition = models.CharField(max_length=10, choices=Disposition.choices)
    decision = models.TextField(blank=True, help_text="The routing decision, explained.")
    labels = models.JSONField(default=dict, blank=True, help_text="The first alert's labels.")
    runbook_url = models.URLField(max_length=500, blank=True)
    is_storm = models.BooleanField(default=False)
    storm = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="stormed_groups"
    )
    page = models.ForeignKey(
        "oncall.Page", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    incident = models.ForeignKey(
        "incidents.Incident", on_delete=models.SET_NULL, null=True, blank=True, related_name="alert_groups"
    )
    alert_count = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(help_text="The first alert's start, as the source reported it.")
    last_alert_at = models.DateTimeField()
    created_at = models.DateTimeField()
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    taken_over_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="A person took it over: the source's 'resolved' no longer resolves it.",
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolve_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        permissions = [("respond_alertgroup", "Acknowledge, resolve and take over alert groups")]
        constraints = [
            # one open group per key: concurrent first alerts fold into the same group
            models.UniqueConstraint(
                fields=["integration", "group_key"],
                condition=Q(status__in=["firing", "acknowledged"]),
                name="%(app_label)s_%(class)s_one_open_per_key",
            ),
            # one open storm group per service
            models.UniqueConstraint(
                fields=["service"],
                condition=Q(is_storm=True, status__in=["firing", "acknowledged"]),
                name="%(app_label)s_%(class)s_one_open_storm",
            ),
        ]
        indexes = [
            # the admin/API list: newest first, filtered by status and service
            models.Index(fields=["service", "status", "-created_at"], name="alerts_group_svc_status"),
            # the storm counter: paging groups of a service created in the last minute
            models.Index(fields=["service", "created_at"], name="alerts_group_svc_created"),
            # a page's group (the signal receivers)
            models.Index(fields=["page"], name="alerts_group_page"),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("admin:alerts_alertgroup_change", args=[self.pk])

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN


class Alert(models.Model):
    class Status(models.TextChoices):
        FIRING = "firing", "Firing"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        RESOLVED = "resolved", "Resolved"

    OPEN = (Status.FIRING, Status.ACKNOWLEDGED)

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="alerts")
    group = models.ForeignKey(AlertGroup, on_delete=models.CASCADE, related_name="alerts")
    source = models.CharField(max_length=20, help_text="The integration kind that sent it.")
    dedup_key = models.CharField(max_length=255)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.FIRING)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.CRITICAL)
    summary = models.CharField(max_length=500)
    details = models.TextField(blank=True)
    labels = models.JSONField(default=dict, blank=True)
    annotations = models.JSONField(default=dict, blank=True)
    links = models.JSONField(default=list, blank=True)
    runbook_url = models.URLField(max_length=500, blank=True)
    started_at = models.DateTimeField(help_text="When the source says the problem started.")
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    occurrences = models.PositiveIntegerField(default=1)
    resolved_at = models.DateTimeField(null=True, blank=True)
    decision = models.TextField(blank=True)

    class Meta:
        ordering = ["-last_seen_at", "-pk"]
        constraints = [
            # one open alert per key: a repeated trigger updates it (the race test)
            models.UniqueConstraint(
                fields=["integration", "dedup_key"],
                condition=Q(status__in=["firing", "acknowledged"]),
                name="%(app_label)s_%(class)s_one_open_per_key",
            ),
        ]
        indexes = [
            # a group's alerts (detail page, "all resolved?")
            models.Index(fields=["group", "status"], name="alerts_alert_group_status"),
        ]

    def __str__(self) -> str:
        return self.summary

    def get_absolute_url(self) -> str:
        return reverse("admin:alerts_alert_change", args=[self.pk])


class RawPayload(models.Model):
    class Outcome(models.TextChoices):
        PARSED = "parsed", "Parsed"
        UNPARSED = "unparsed", "Unparsed"

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="payloads")
    received_at = models.DateTimeField(db_index=True)  # pruning by age
    content_type = models.CharField(max_length=100, blank=True)
    body = models.TextField()
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    error = models.CharField(max_length=500, blank=True)
    alerts = models.ManyToManyField(Alert, blank=True, related_name="payloads")

    class Meta:
        ordering = ["-received_at", "-pk"]
        indexes = [models.Index(fields=["integration", "-received_at"], name="alerts_payload_integ")]

    def __str__(self) -> str:
        return f"{self.integration} @ {self.received_at:%Y-%m-%d %H:%M:%S}"
