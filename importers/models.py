"""Import runs (the plan, progress and verification report of one run) and the links from
imported Ops Portal objects back to their source ids (what makes a re-run idempotent).

Importers are an adapter (layer 6): they create catalog/accounts/oncall objects only through
those apps' services; these two models are the importer's own bookkeeping.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q
from django.urls import reverse

from notifications.fields import EncryptedTextField

SOURCES = [
    ("pagerduty", "PagerDuty"),
    ("opsgenie", "Opsgenie"),
    ("grafana-oncall", "Grafana OnCall"),
]


class ImportRun(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        PLANNED = "planned", "Dry run done (plan ready)"
        APPLYING = "applying", "Applying"
        APPLIED = "applied", "Applied (verified)"
        FAILED = "failed", "Failed"

    source = models.CharField(max_length=20, choices=SOURCES)
    base_url = models.CharField(
        max_length=300, blank=True, help_text="The source's API address; empty: the vendor's public API."
    )
    api_key = EncryptedTextField(
        blank=True,
        help_text="Stored encrypted, used by the run, wiped when the run finishes. Empty: the key from "
        "the server's environment (IMPORT_<SOURCE>_API_KEY).",
    )
    create_missing_users = models.BooleanField(
        default=False, help_text="Create people missing in Ops Portal as inactive accounts (superusers only)."
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0, help_text="Percent done of the current step.")
    progress_note = models.CharField(max_length=200, blank=True)
    plan = models.JSONField(default=list, blank=True, help_text="One row per object: group, action, reason.")
    report = models.JSONField(default=list, blank=True, help_text="Report lines (problems, applied groups).")
    verification = models.JSONField(default=list, blank=True, help_text="Agreement per schedule.")
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "import run"
        constraints = [
            models.CheckConstraint(
                condition=Q(source__in=[s for s, _ in SOURCES]), name="%(app_label)s_%(class)s_source"
            ),
            models.CheckConstraint(condition=Q(progress__lte=100), name="%(app_label)s_%(class)s_progress"),
        ]

    def __str__(self) -> str:
        return f"{self.get_source_display()} import #{self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("admin:importers_importrun_change", args=[self.pk])


class SourceLink(models.Model):
    """ "This Ops Portal object was imported from that source object." One row per source
    object; the next run updates the linked object instead of creating another."""

    source = models.CharField(max_length=20, choices=SOURCES)
    kind = models.CharField(max_length=20, help_text="user, team, service, schedule, policy, integration")
    source_id = models.CharField(max_length=100)
    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE, related_name="+")
    object_id = models.CharField(max_length=64)
    fingerprint = models.CharField(max_length=64, help_text="Hash of the source object as last applied.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["source", "kind", "source_id"], name="%(app_label)s_%(class)s_unique_source_id"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source} {self.kind} {self.source_id}"
