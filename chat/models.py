"""What the chat adapter remembers about the outside chat workspace.

No business rule lives here: incidents, pages and schedules stay in their apps. These rows
only map portal objects to chat objects (a channel, a message) and record how far the
idempotent Web API steps got, so a retried step never creates a second channel or message.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class Provider(models.TextChoices):
    SLACK = "slack", "Slack"
    MATTERMOST = "mattermost", "Mattermost"


class IncidentChannel(models.Model):
    """The incident's chat channel. Written pending in the transaction that declares the
    incident; the outbox step ``converge`` creates the channel and brings it up to date."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ACTIVE = "active", "Active"
        ARCHIVED = "archived", "Archived"

    incident = models.OneToOneField(
        "incidents.Incident", on_delete=models.CASCADE, related_name="chat_channel"
    )
    provider = models.CharField(max_length=12, choices=Provider.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    name = models.CharField(max_length=80, help_text="Channel name as created (e.g. inc-1234-checkout-down).")
    channel_id = models.CharField(max_length=40, blank=True)
    url = models.URLField(max_length=500, blank=True)
    # External user ids already invited (steps are idempotent: only the missing are invited).
    members = models.JSONField(default=list, blank=True)
    topic = models.CharField(max_length=250, blank=True, help_text="The topic last set.")
    card_ts = models.CharField(max_length=40, blank=True, help_text="The pinned summary card's message id.")
    card_pinned = models.BooleanField(default=False)
    card_digest = models.CharField(max_length=64, blank=True, help_text="Hash of the card last posted.")
    posted_updates = models.JSONField(default=list, blank=True, help_text="Status updates posted (ids).")
    created_at = models.DateTimeField(auto_now_add=True)
    ready_at = models.DateTimeField(null=True, blank=True)
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # A channel id once known is unique per provider (two incidents never share a channel).
            models.UniqueConstraint(
                fields=["provider", "channel_id"],
                condition=~Q(channel_id=""),
                name="%(app_label)s_%(class)s_unique_channel",
            ),
            models.CheckConstraint(
                condition=Q(status="pending") | ~Q(channel_id=""),
                name="%(app_label)s_%(class)s_active_has_channel",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.name}"


class PageMessage(models.Model):
    """A page posted with buttons to one person (a direct message); edited in place."""

    page = models.ForeignKey("oncall.Page", on_delete=models.CASCADE, related_name="chat_messages")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    provider = models.CharField(max_length=12, choices=Provider.choices)
    channel_id = models.CharField(max_length=40)
    ts = models.CharField(max_length=40)
    external_user_id = models.CharField(max_length=40, blank=True, help_text="The chat user it was sent to.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "channel_id", "ts"], name="%(app_label)s_%(class)s_unique"
            ),
        ]
        indexes = [
            # outbox step page_update: every message of a page
            models.Index(fields=["page"], name="chat_pagemessage_page"),
        ]

    def __str__(self) -> str:
        return f"page {self.page_id} to user {self.user_id}"


class Identity(models.Model):
    """A chat user mapped to a portal account by a verified e-mail address (cached)."""

    provider = models.CharField(max_length=12, choices=Provider.choices)
    external_id = models.CharField(max_length=40)
    email = models.EmailField(blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    checked_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "external_id"], name="%(app_label)s_%(class)s_unique_external"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider}:{self.external_id} -> {self.user_id}"


class InboundRequest(models.Model):
    """Every verified inbound request once: the signature's digest is unique, so a replay
    (same timestamp, same body, same signature) is refused. Deferred work reads its payload."""

    class Kind(models.TextChoices):
        COMMAND = "command", "Slash command"
        INTERACTION = "interaction", "Interaction"
        EVENT = "event", "Event"

    provider = models.CharField(max_length=12, choices=Provider.choices)
    digest = models.CharField(max_length=64, unique=True)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    payload = models.JSONField(default=dict)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=300, blank=True)

    class Meta:
        indexes = [
            # tasks.prune: rows older than the replay window
            models.Index(fields=["received_at"], name="chat_inbound_received"),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.kind} {self.pk}"


class TimelineLink(models.Model):
    """A chat message added to an incident's timeline (at most once)."""

    incident = models.ForeignKey("incidents.Incident", on_delete=models.CASCADE, related_name="+")
    provider = models.CharField(max_length=12, choices=Provider.choices)
    channel_id = models.CharField(max_length=40)
    ts = models.CharField(max_length=40)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "channel_id", "ts"], name="%(app_label)s_%(class)s_unique_message"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel_id}/{self.ts} -> incident {self.incident_id}"


class UserGroupSync(models.Model):
    """The on-call user group of a schedule, as last pushed to the workspace."""

    schedule = models.OneToOneField("oncall.Schedule", on_delete=models.CASCADE, related_name="+")
    usergroup_id = models.CharField(max_length=40)
    user_ids = models.JSONField(default=list, blank=True, help_text="Portal user ids last pushed.")
    synced_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"schedule {self.schedule_id} -> {self.usergroup_id}"
