"""Deployments reported by pipelines (or by a release's shipped / rolled back) and the links
people confirm or deny between a deployment and the incident it may have caused.

A deployment moves ``running -> succeeded | failed | rolled_back`` once (``finish``); a
succeeded deployment can later be ``rolled_back`` (its release was rolled back). It is a
*change failure* (``change_failure``, kept by ``deployments.services``) when it failed, was
rolled back, or a person confirmed it caused an incident (``IncidentLink``).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from opsportal.fields import URLField

PRODUCTION = "production"


class Deployment(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        ROLLED_BACK = "rolled_back", "Rolled back"

    OUTCOMES = (Status.SUCCEEDED, Status.FAILED, Status.ROLLED_BACK)

    client_key = models.CharField(
        max_length=200,
        unique=True,
        help_text="Idempotency key chosen by the pipeline (a repeat returns this row).",
    )
    services = models.ManyToManyField("catalog.Service", related_name="deployments")
    version = models.CharField(max_length=100)
    environment = models.SlugField(max_length=40, default=PRODUCTION)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    rolled_back_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the rollback finished (the deploy's own finish if it was rolled back).",
    )
    commit_sha = models.CharField(max_length=64, blank=True)
    commit_at = models.DateTimeField(null=True, blank=True, help_text="Commit time (lead time for changes).")
    pipeline_url = URLField(max_length=500, blank=True)
    triggered_by = models.CharField(max_length=150, blank=True, help_text="Who or what started it.")
    release = models.ForeignKey(
        "readiness.Release", on_delete=models.SET_NULL, null=True, blank=True, related_name="deployments"
    )
    reviewed = models.BooleanField(
        default=False,
        editable=False,
        help_text="Its release went through a readiness review (kept by the service).",
    )
    rollback_tested = models.BooleanField(
        default=False,
        editable=False,
        help_text="At the start, the rollback of its release or services had been tested or exercised within 90 days.",
    )
    change_failure = models.BooleanField(default=False, editable=False)
    caused_incident = models.BooleanField(
        default=False,
        editable=False,
        help_text="A person confirmed it caused an incident (kept by the service).",
    )
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-started_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(finished_at__isnull=True) | Q(finished_at__gte=F("started_at")),
                name="%(app_label)s_%(class)s_finish_after_start",
            ),
            models.CheckConstraint(
                condition=(Q(status="running") & Q(finished_at__isnull=True))
                | (~Q(status="running") & Q(finished_at__isnull=False)),
                name="%(app_label)s_%(class)s_finished_iff_outcome",
            ),
            models.CheckConstraint(
                condition=Q(rolled_back_at__isnull=True) | Q(status="rolled_back"),
                name="%(app_label)s_%(class)s_rollback_time_only_when_rolled_back",
            ),
            models.CheckConstraint(
                condition=Q(commit_at__isnull=True) | Q(commit_at__lte=F("started_at")),
                name="%(app_label)s_%(class)s_commit_before_start",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["failed", "rolled_back"]) | Q(change_failure=True),
                name="%(app_label)s_%(class)s_failed_is_change_failure",
            ),
            models.CheckConstraint(
                condition=Q(caused_incident=False) | Q(change_failure=True),
                name="%(app_label)s_%(class)s_cause_is_change_failure",
            ),
        ]
        indexes = [
            # delivery metrics: deployments of an environment started in a period
            models.Index(fields=["environment", "started_at"], name="deployments_env_started"),
            # cause suggestions: production deployments started shortly before an incident
            models.Index(
                fields=["started_at"], name="deployments_prod_started", condition=Q(environment=PRODUCTION)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.version} ({self.environment}, {self.started_at:%Y-%m-%d %H:%M})"

    @property
    def deployed_at(self):
        """When the change went live: its finish, or its start while it runs."""
        return self.finished_at or self.started_at


class IncidentLink(models.Model):
    """A person's answer to "was this incident caused by this deployment?"."""

    class Verdict(models.TextChoices):
        CONFIRMED = "confirmed", "Confirmed"
        DENIED = "denied", "Denied"

    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="incident_links")
    incident = models.ForeignKey(
        "incidents.Incident", on_delete=models.CASCADE, related_name="deployment_links"
    )
    verdict = models.CharField(max_length=10, choices=Verdict.choices)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField()
    minutes_before_impact = models.IntegerField(help_text="Deploy to impact, as suggested.")

    class Meta:
        ordering = ["-decided_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["deployment", "incident"], name="%(app_label)s_%(class)s_one_per_pair"
            ),
        ]
        indexes = [
            # time to restore: the confirmed links of failed deployments
            models.Index(
                fields=["deployment"], name="deployments_link_confirmed", condition=Q(verdict="confirmed")
            ),
        ]

    def __str__(self) -> str:
        return f"{self.deployment} -> {self.incident_id}: {self.verdict}"
