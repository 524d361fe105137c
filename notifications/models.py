"""Contact methods, per-kind preferences and the notification outbox.

Every message the portal sends is a ``Notification`` row written in the same transaction as
the event that caused it (``services.notify``), then delivered by ``tasks.deliver``. The
row is the source of truth: the broker only carries "please look at row N".
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q
from django.urls import reverse
from simple_history.models import HistoricalRecords

from notifications.fields import EncryptedURLField


class Channel(models.TextChoices):
    EMAIL = "email", "E-mail"
    SLACK = "slack", "Slack"
    WEBHOOK = "webhook", "Webhook"


class OutboxChannel(models.TextChoices):
    """What an outbox row goes over: a person's channel, or an app's API call (``APP``: a
    Slack/Mattermost Web API call written by an adapter app through ``services.enqueue_call``
    and sent by the sender it registered with ``channels.register_app_sender``)."""

    EMAIL = "email", "E-mail"
    SLACK = "slack", "Slack"
    WEBHOOK = "webhook", "Webhook"
    APP = "app", "App API call"


class Kind(models.TextChoices):
    PAGE = "page", "Page"
    REMINDER = "reminder", "Reminder"
    DIGEST = "digest", "Digest"
    UPDATE = "update", "Update"


class ContactMethod(models.Model):
    """One way to reach a person, and which kinds of message it receives.

    E-mail with a blank address means "the user's account e-mail". A user with no e-mail
    contact method at all gets every kind by e-mail to their account address (the default).
    """

    Channel = Channel

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="contact_methods"
    )
    channel = models.CharField(max_length=10, choices=Channel.choices)
    label = models.CharField(max_length=100, blank=True, help_text="e.g. 'Phone e-mail', '#sre-pager'.")
    email = models.EmailField(blank=True, help_text="E-mail only. Blank: the account's e-mail address.")
    # A credential (anyone holding it can post): stored encrypted, never shown back in full.
    url = EncryptedURLField(
        max_length=500,
        blank=True,
        help_text="Slack: the incoming-webhook URL. Webhook: the endpoint that receives signed JSON.",
    )
    slack_member_id = models.CharField(
        max_length=32,
        blank=True,
        help_text="Slack only, optional: member ID (e.g. U024BE7LH) mentioned when posting to a shared "
        "workspace webhook.",
    )
    # Fernet token (see notifications.crypto); never shown back in full.
    secret_encrypted = models.TextField(blank=True, editable=False)
    secret_hint = models.CharField(max_length=8, blank=True, editable=False)
    enabled = models.BooleanField(default=True)
    for_page = models.BooleanField("pages", default=True)
    for_reminder = models.BooleanField("reminders", default=True)
    for_digest = models.BooleanField("digests", default=True)
    for_update = models.BooleanField("updates", default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(excluded_fields=["secret_encrypted"])

    class Meta:
        ordering = ["user", "channel", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(channel="email") | ~Q(url=""), name="%(app_label)s_%(class)s_url_required"
            ),
            models.CheckConstraint(
                condition=~Q(channel="webhook") | ~Q(secret_encrypted=""),
                name="%(app_label)s_%(class)s_webhook_secret_required",
            ),
        ]
        indexes = [
            # services.notify: enabled contact methods of the recipients
            models.Index(fields=["user"], condition=Q(enabled=True), name="notifications_cm_enabled"),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()}: {self.label or self.target_display}"

    def wants(self, kind: str) -> bool:
        return bool(getattr(self, f"for_{kind}", False))

    @property
    def target_display(self) -> str:
        """Where it goes, safe to show (webhook URLs often carry a token in the path)."""
        if self.channel == Channel.EMAIL:
            return self.email or "(account e-mail)"
        return mask_url(self.url)


def mask_url(url: str) -> str:
    """``https://hooks.slack.com/services/T0/B0/abcdef`` -> ``https://hooks.slack.com/…cdef``."""
    from urllib.parse import urlsplit

    if not url:
        return ""
    parts = urlsplit(url)
    tail = url[-4:] if len(parts.path) > 8 else ""
    return f"{parts.scheme}://{parts.netloc}/…{tail}"


class Notification(models.Model):
    """The outbox: one message to one recipient over one channel, or one app API call."""

    Channel = OutboxChannel
    Kind = Kind

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    # sha256 of (caller's key, recipient, channel, destination): unique per message.
    idempotency_key = models.CharField(max_length=64, unique=True, editable=False)
    event_key = models.CharField(max_length=255, help_text="The caller's idempotency key.")
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="notifications",
    )
    contact_method = models.ForeignKey(
        ContactMethod, on_delete=models.SET_NULL, null=True, blank=True, related_name="notifications"
    )
    channel = models.CharField(max_length=10, choices=OutboxChannel.choices)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    # Destination snapshot: an e-mail address or a URL (the secret stays on the contact method).
    address = models.CharField(max_length=500)
    template = models.CharField(max_length=200)
    subject = models.CharField(max_length=255)
    body = models.TextField()
    # JSON-safe layout data for Slack/webhooks: title, url, severity, fields, actions.
    payload = models.JSONField(default=dict)

    related_type = models.ForeignKey(ContentType, on_delete=models.SET_NULL, null=True, blank=True)
    related_id = models.CharField(max_length=64, blank=True)
    related = GenericForeignKey("related_type", "related_id")

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(help_text="Pending rows are due from this moment.")
    lease_expires_at = models.DateTimeField(null=True, blank=True, help_text="Sending rows: claim expiry.")
    claim_token = models.CharField(max_length=32, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="sent") | Q(sent_at__isnull=False),
                name="%(app_label)s_%(class)s_sent_has_sent_at",
            ),
            models.CheckConstraint(
                condition=~Q(status="sending") | Q(lease_expires_at__isnull=False),
                name="%(app_label)s_%(class)s_sending_has_lease",
            ),
        ]
        indexes = [
            # tasks.redispatch: due pending rows, oldest first (partial: only open rows)
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="notifications_pending_due",
            ),
            # tasks.redispatch: sending rows whose worker died (lease expired)
            models.Index(
                fields=["lease_expires_at"],
                condition=Q(status="sending"),
                name="notifications_sending_lease",
            ),
            # admin log filtered by recipient, newest first
            models.Index(fields=["recipient", "-created_at"], name="notifications_recipient_new"),
            # "what did we send about this incident/page?"
            models.Index(fields=["related_type", "related_id"], name="notifications_related"),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} {self.get_kind_display().lower()} to {self.address_display}"

    def get_absolute_url(self) -> str:
        return reverse("admin:notifications_notification_change", args=[self.pk])

    @property
    def address_display(self) -> str:
        if self.channel == OutboxChannel.APP:
            return self.address  # an API method URL, no secret in it
        return self.address if self.channel == Channel.EMAIL else mask_url(self.address)
