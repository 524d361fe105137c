"""Identity: who a person is at the company identity provider, what the directory (SCIM) says
about them, and the audit trail of every sign-in and provisioning change.

The portal's own ``accounts.User`` stays the one person record; these models hang off it so
accounts keeps no knowledge of any identity provider.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q


class ExternalIdentity(models.Model):
    """The stable subject id (``iss`` + ``sub``) a person has at the identity provider. It
    survives e-mail and name changes: sign-in finds the person by it first, by e-mail only the
    first time (linking an existing local account)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="identities")
    issuer = models.CharField(max_length=255)
    subject = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)
    last_sign_in_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "external identity"
        verbose_name_plural = "external identities"
        constraints = [
            models.UniqueConstraint(
                fields=["issuer", "subject"], name="%(app_label)s_%(class)s_unique_subject"
            ),
            models.UniqueConstraint(fields=["user", "issuer"], name="%(app_label)s_%(class)s_one_per_issuer"),
        ]

    def __str__(self) -> str:
        return f"{self.subject} @ {self.issuer}"


class ManagedAccount(models.Model):
    """What the identity provider manages about a person: the SCIM ``externalId`` (when the
    directory provisioned them) and which roles and teams single sign-on or SCIM gave them, so
    a re-sync removes exactly those (``SSO_KEEP_MANUAL_ROLES``) and leaves hand-given extras."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="managed")
    external_id = models.CharField(max_length=255, blank=True, help_text="SCIM externalId.")
    scim_managed = models.BooleanField(default=False, help_text="Created or updated by the directory (SCIM).")
    managed_roles = models.JSONField(default=list, blank=True)
    managed_teams = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["external_id"],
                condition=~Q(external_id=""),
                name="%(app_label)s_%(class)s_unique_external_id",
            ),
        ]

    def __str__(self) -> str:
        return self.external_id or str(self.user)


class DirectoryGroup(models.Model):
    """A group pushed by the directory over SCIM ("ops-managers", "oncall"). Its members get
    the portal roles and teams that ``SSO_ROLE_MAP`` / ``SSO_TEAM_MAP`` map its name to; the
    group itself grants nothing."""

    display_name = models.CharField(max_length=255, unique=True)
    external_id = models.CharField(max_length=255, blank=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="directory_groups")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["display_name"]

    def __str__(self) -> str:
        return self.display_name


class ScimToken(models.Model):
    """The bearer token the directory presents on /scim/v2/. Stored as a SHA-256 digest; the
    token itself is shown once, when it is created (``manage.py scim_token`` or the admin)."""

    name = models.CharField(max_length=100, help_text="Which directory uses it, e.g. 'Okta production'.")
    prefix = models.CharField(
        max_length=12, editable=False, help_text="First characters, to tell tokens apart."
    )
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "SCIM token"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def new_key() -> str:
        return "scim_" + secrets.token_urlsafe(32)


class AuditEvent(models.Model):
    """One sign-in, failed sign-in, role change or provisioning change: who, when, from where,
    what changed. Append-only: written by ``identity.services.record``, never edited."""

    class Kind(models.TextChoices):
        SIGN_IN = "sign_in", "Sign-in"
        SIGN_IN_FAILED = "sign_in_failed", "Failed sign-in"
        SIGN_OUT = "sign_out", "Sign-out"
        USER_CREATED = "user_created", "Account created"
        USER_UPDATED = "user_updated", "Account updated"
        ROLES_CHANGED = "roles_changed", "Roles changed"
        TEAMS_CHANGED = "teams_changed", "Teams changed"
        DEACTIVATED = "deactivated", "Deactivated"
        REACTIVATED = "reactivated", "Reactivated"
        GROUP_CHANGED = "group_changed", "Directory group changed"
        SCIM_REFUSED = "scim_refused", "SCIM request refused"
        TOKEN_CREATED = "token_created", "SCIM token created"
        TOKEN_REVOKED = "token_revoked", "SCIM token revoked"

    class Source(models.TextChoices):
        OIDC = "oidc", "Single sign-on"
        PASSWORD = "password", "Password"
        SCIM = "scim", "SCIM"
        ADMIN = "admin", "Admin"
        SYSTEM = "system", "System"

    at = models.DateTimeField(db_index=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    source = models.CharField(max_length=10, choices=Source.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Whose account it is about (empty when the sign-in matched nobody).",
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Who did it, when a person did (an admin); empty for the directory and the IdP.",
    )
    username = models.CharField(
        max_length=255, blank=True, help_text="As presented (kept when the account goes)."
    )
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=255, blank=True)
    summary = models.CharField(max_length=500)
    changes = models.JSONField(default=dict, blank=True, help_text="What changed: field -> [before, after].")

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [
            # the audit page filtered by person, newest first
            models.Index(fields=["user", "-at"], name="identity_audit_user_at"),
            # the audit page filtered by kind (failed sign-ins), newest first
            models.Index(fields=["kind", "-at"], name="identity_audit_kind_at"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.summary}"


class Departure(models.Model):
    """A person was deactivated: the explicit, logged decision that takes them out of future
    on-call computation from ``at`` on, with the list of everything that still named them
    (schedules, escalation levels, duties, action items) and who was told."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="departures")
    at = models.DateTimeField()
    source = models.CharField(max_length=10, choices=AuditEvent.Source.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    references = models.JSONField(default=list, blank=True)
    notified = models.JSONField(default=list, blank=True, help_text="Managers told, by username.")
    reverted_at = models.DateTimeField(
        null=True, blank=True, help_text="Set when the person was reactivated."
    )

    class Meta:
        ordering = ["-at"]
        constraints = [
            # one open departure per person: deactivating twice is one decision
            models.UniqueConstraint(
                fields=["user"],
                condition=Q(reverted_at__isnull=True),
                name="%(app_label)s_%(class)s_one_open",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} left {self.at:%Y-%m-%d %H:%M} UTC"


class SessionRecord(models.Model):
    """A signed-in browser session of a person (its key), so deactivation can end every one of
    them at once. Not part of the audit export: a session key is a credential."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    session_key = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["session_key"], name="%(app_label)s_%(class)s_unique_key"),
        ]
        # deactivation: every session of one person
        indexes = [models.Index(fields=["user"], name="identity_session_user")]

    def __str__(self) -> str:
        return f"session of user {self.user_id}"
