from zoneinfo import available_timezones

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from knox.models import AbstractAuthToken
from knox.settings import CONSTANTS, knox_settings


def validate_time_zone(value: str) -> None:
    if value not in available_timezones():
        raise ValidationError(f"{value!r} is not an IANA time zone (e.g. Europe/Berlin).")


class User(AbstractUser):
    """A person using the portal. Roles are groups (see accounts/roles.py)."""

    time_zone = models.CharField(
        max_length=64,
        default="UTC",
        validators=[validate_time_zone],
        help_text="IANA time zone used to show this person's shifts and quiet hours.",
    )

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        ordering = ["username"]

    def __str__(self) -> str:
        full = self.get_full_name()
        return full or self.username


class ApiToken(AbstractAuthToken):
    """A machine's key to the API (``Authorization: Token <key>``), stored as knox stores it:
    a SHA-512 digest of the key plus its first characters for lookup, never the key itself.

    The key is shown once, when the token is created (accounts.services.create_token).
    Revoked and expired tokens are kept (who revoked it and when) so the admin and the audit
    trail still know them; they no longer authenticate.
    """

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        EXPIRED = "expired", "Expired"
        REVOKED = "revoked", "Revoked"

    # knox makes the digest the primary key; here it is a unique column instead, so admin
    # URLs, history entries and log lines carry a plain number, never a digest.
    id = models.BigAutoField(primary_key=True)
    digest = models.CharField(max_length=CONSTANTS.DIGEST_LENGTH, unique=True, editable=False)
    name = models.CharField(
        max_length=100, help_text="What uses this token and where, e.g. 'GitLab CI release gate'."
    )
    created_by = models.ForeignKey(
        "accounts.User",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Who created the token (a superuser may create one for a machine account).",
    )
    last_used_at = models.DateTimeField(null=True, blank=True, help_text="Updated at most once a minute.")
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = "API token"
        verbose_name_plural = "API tokens"
        ordering = ["-created", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(expiry__isnull=True) | models.Q(expiry__gt=models.F("created")),
                name="%(app_label)s_%(class)s_expiry_after_created",
            ),
            models.CheckConstraint(
                condition=models.Q(revoked_at__isnull=False) | models.Q(revoked_by__isnull=True),
                name="%(app_label)s_%(class)s_revoked_by_needs_revoked_at",
            ),
        ]
        indexes = [
            # "my tokens" in the admin and the API: the owner's tokens, newest first
            models.Index(fields=["user", "-created"], name="accounts_apitoken_user_created"),
        ]

    def __str__(self) -> str:
        # knox's __str__ shows the digest; admin history and delete pages print str(obj)
        return f"{self.name} ({self.key_hint})"

    @property
    def key_hint(self) -> str:
        """Enough of the key to tell tokens apart, never enough to use one: the prefix
        ("ops_") and the next 8 characters."""
        prefix = knox_settings.TOKEN_PREFIX
        visible = len(prefix) + 8 if prefix and self.token_key.startswith(prefix) else 8
        return f"{self.token_key[:visible]}…"

    def status_at(self, now) -> str:
        if self.revoked_at is not None:
            return self.Status.REVOKED
        if self.expiry is not None and self.expiry <= now:
            return self.Status.EXPIRED
        return self.Status.ACTIVE
