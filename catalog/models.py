"""Teams and the services they own. Every service has a responsible owner team."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from simple_history.models import HistoricalRecords

from opsportal.fields import URLField


class Team(models.Model):
    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="managed_teams",
        help_text="Engineering manager accountable for the team's services.",
    )
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="teams", blank=True)
    email = models.EmailField(blank=True, help_text="Team mailing list for digests.")
    chat_channel = models.CharField(max_length=100, blank=True, help_text="e.g. #team-payments")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(m2m_fields=[members])

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("admin:catalog_team_change", args=[self.pk])


class Service(models.Model):
    class Tier(models.TextChoices):
        TIER_1 = "tier-1", "Tier 1 - critical (customer-facing, revenue)"
        TIER_2 = "tier-2", "Tier 2 - important (degrades experience)"
        TIER_3 = "tier-3", "Tier 3 - internal / best effort"

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    owner_team = models.ForeignKey(
        Team,
        on_delete=models.PROTECT,  # a team that still owns services cannot disappear
        related_name="services",
        help_text="Every service has a responsible owner.",
    )
    tier = models.CharField(max_length=10, choices=Tier.choices, default=Tier.TIER_2)
    dependencies = models.ManyToManyField(
        "self",
        through="ServiceDependency",
        through_fields=("service", "depends_on"),
        symmetrical=False,
        related_name="dependents",
        blank=True,
        help_text="Services this one needs to work (its blast radius flows the other way).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        indexes = [
            # services of a team (team admin, ownership lookups)
            models.Index(fields=["owner_team", "name"], name="catalog_service_team_name"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("admin:catalog_service_change", args=[self.pk])


class ServiceDependency(models.Model):
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="dependency_links")
    depends_on = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="dependent_links")
    note = models.CharField(max_length=200, blank=True, help_text="What breaks if it is down.")

    history = HistoricalRecords()

    class Meta:
        verbose_name = "dependency"
        verbose_name_plural = "dependencies"
        constraints = [
            models.UniqueConstraint(fields=["service", "depends_on"], name="%(app_label)s_%(class)s_unique"),
            models.CheckConstraint(
                condition=~Q(service=F("depends_on")), name="%(app_label)s_%(class)s_not_self"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.service} -> {self.depends_on}"


class ServiceLink(models.Model):
    class Kind(models.TextChoices):
        DASHBOARD = "dashboard", "Dashboard"
        REPOSITORY = "repository", "Repository"
        LOGS = "logs", "Logs"
        DOCS = "docs", "Documentation"
        OTHER = "other", "Other"

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="links")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    title = models.CharField(max_length=100)
    url = URLField(max_length=500)

    class Meta:
        ordering = ["kind", "title"]
        constraints = [
            models.UniqueConstraint(fields=["service", "url"], name="%(app_label)s_%(class)s_unique_url"),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.get_kind_display()})"
