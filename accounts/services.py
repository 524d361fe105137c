"""Writes for accounts: people's accounts (the admin's user pages), API tokens - create (the
key is returned once), revoke, and check a key a machine presents - and lifting a sign-in
lockout.

Accounts are administered by superusers (engineering managers read the directory). Roles are
groups defined in code (``accounts.roles``); giving someone a role is a superuser's act and
lands in the admin log with who did it.

Keys are made and hashed by django-rest-knox (``get_digest_token``: random bytes, SHA-512);
only the digest and the first characters of the key (``token_key``, for the lookup) are
stored. Who may do what is decided in ``accounts.permissions``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from hmac import compare_digest

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from knox.crypto import hash_token
from knox.models import get_digest_token
from knox.settings import CONSTANTS

from accounts import permissions
from accounts.models import ApiToken, User
from opsportal.errors import Conflict, InvalidInput, NotAllowed

log = logging.getLogger(__name__)

# last_used_at is written at most this often per token: a busy machine does not turn every
# API request into an UPDATE.
LAST_USED_RESOLUTION = timedelta(minutes=1)
# An expiry closer than this is refused: a token that dies before anyone can paste it helps nobody.
MIN_LIFETIME = timedelta(minutes=1)
# Longer keys than any key we issue (ops_ + 64 hex) or migrated (40 hex) are not hashed at all.
MAX_KEY_LENGTH = 128
NAME_MAX_LENGTH = ApiToken._meta.get_field("name").max_length


class TokenRejected(Exception):
    """A presented key does not authenticate.

    ``guess`` is True when the key matches no token at all (what a brute-force guess looks
    like: counted towards the per-address lockout); False for a real key that expired, was
    revoked or belongs to a deactivated account.
    """

    def __init__(self, message: str, *, guess: bool) -> None:
        super().__init__(message)
        self.message = message
        self.guess = guess


def create_token(
    *, user: User, actor: User, name: str, expires_at: datetime | None = None
) -> tuple[ApiToken, str]:
    """Create an API token for ``user``; returns the row and the key, which is never stored
    and cannot be shown again."""
    name = (name or "").strip()
    if not name:
        raise InvalidInput("Name the token after what uses it and where.", field="name")
    if len(name) > NAME_MAX_LENGTH:
        raise InvalidInput(f"Keep the name to {NAME_MAX_LENGTH} characters.", field="name")
    if not permissions.can_create_token(actor, user):
        if actor.pk == user.pk:
            raise NotAllowed("Only engineering managers, responders and release leads can create API tokens.")
        raise NotAllowed(
            "You can create API tokens only for yourself; a superuser creates them for machine accounts."
        )
    if not user.is_active:
        raise InvalidInput(
            f"{user.get_username()} is deactivated: their tokens would not work.", field="user"
        )
    now = timezone.now()
    if expires_at is not None:
        if timezone.is_naive(expires_at):
            raise InvalidInput("Give the expiry with a time zone.", field="expires_at")
        if expires_at < now + MIN_LIFETIME:
            raise InvalidInput("The expiry must be in the future.", field="expires_at")
    digest, key = get_digest_token()
    token = ApiToken(
        digest=digest,
        token_key=key[: CONSTANTS.TOKEN_KEY_LENGTH],
        user=user,
        name=name,
        expiry=expires_at,
        created_by=actor,
    )
    token.save(force_insert=True)
    log.info(
        "api token %s %r created for %s by %s, expires %s",
        token.pk,
        name,
        user.get_username(),
        actor.get_username(),
        expires_at.isoformat() if expires_at else "never",
    )
    return token, key


def revoke_token(*, token: ApiToken, actor: User) -> ApiToken:
    """Revoke one token at once (the row stays, with who revoked it and when)."""
    if not permissions.can_revoke_tokens_of(actor, token.user):
        raise NotAllowed("You can revoke only your own API tokens.")
    now = timezone.now()
    revoked = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
        revoked_at=now, revoked_by=actor
    )
    if not revoked:
        raise Conflict("This token was already revoked.")
    token.revoked_at, token.revoked_by = now, actor
    log.info("api token %s of %s revoked by %s", token.pk, token.user.get_username(), actor.get_username())
    return token


def revoke_user_tokens(*, user: User, actor: User) -> int:
    """Revoke every token of ``user`` that still works (someone left, a laptop was lost).
    Returns how many were revoked."""
    if not permissions.can_revoke_tokens_of(actor, user):
        raise NotAllowed("You can revoke only your own API tokens.")
    now = timezone.now()
    count = (
        ApiToken.objects.filter(user=user, revoked_at__isnull=True)
        .filter(Q(expiry__isnull=True) | Q(expiry__gt=now))
        .update(revoked_at=now, revoked_by=actor)
    )
    log.info("%d api token(s) of %s revoked by %s", count, user.get_username(), actor.get_username())
    return count


def revoke_tokens_of_leaver(*, user: User, actor: User | None = None) -> int:
    """Revoke every token of a person being deactivated (identity.services.deactivate_user,
    which decides who may deactivate; ``actor`` None: the directory over SCIM)."""
    now = timezone.now()
    count = ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(
        revoked_at=now, revoked_by=actor if getattr(actor, "pk", None) else None
    )
    log.info("%d api token(s) of %s revoked: account deactivated", count, user.get_username())
    return count


def authenticate_token(*, key: str) -> ApiToken:
    """The token a machine presented, with its user; raises ``TokenRejected``.

    Looked up as knox does (the key's first characters, then a constant-time comparison of
    the SHA-512 digest). Expired and revoked tokens are refused and kept. Records when the
    token was last used, at most once per ``LAST_USED_RESOLUTION``.
    """
    if not key or len(key) > MAX_KEY_LENGTH:
        raise TokenRejected("Invalid token.", guess=True)
    digest = hash_token(key)
    token = next(
        (
            candidate
            for candidate in ApiToken.objects.filter(token_key=key[: CONSTANTS.TOKEN_KEY_LENGTH])
            .select_related("user")
            .order_by()
            if compare_digest(digest, candidate.digest)
        ),
        None,
    )
    if token is None:
        raise TokenRejected("Invalid token.", guess=True)
    now = timezone.now()
    if token.revoked_at is not None:
        raise TokenRejected("Token has been revoked.", guess=False)
    if token.expiry is not None and token.expiry <= now:
        raise TokenRejected("Token has expired.", guess=False)
    if not token.user.is_active:
        raise TokenRejected("User inactive or deleted.", guess=False)
    _touch(token, now)
    return token


def _touch(token: ApiToken, now: datetime) -> None:
    stale = now - LAST_USED_RESOLUTION
    if token.last_used_at is not None and token.last_used_at > stale:
        return
    # Conditional: of concurrent requests, one writes; the others find it fresh already.
    updated = (
        ApiToken.objects.filter(pk=token.pk)
        .filter(Q(last_used_at__isnull=True) | Q(last_used_at__lte=stale))
        .update(last_used_at=now)
    )
    if updated:
        token.last_used_at = now


def lift_lockouts(*, attempt_ids: list[int], actor: User) -> int:
    """Forget the live failure counts ``attempt_ids`` (axes' AccessAttempt rows): the
    usernames and addresses they locked may sign in again at once. The failure log stays."""
    if not permissions.is_manager(actor):
        raise NotAllowed("Only engineering managers can lift a sign-in lockout.")
    attempts = list(AccessAttempt.objects.filter(pk__in=attempt_ids))
    AccessAttempt.objects.filter(pk__in=[a.pk for a in attempts]).delete()
    for attempt in attempts:
        # same logger as the lockout lines, so one search shows both
        logging.getLogger("accounts.lockout").warning(
            "sign-in lockout lifted by %s: username=%r ip=%s",
            actor.get_username(),
            attempt.username,
            attempt.ip_address,
        )
    return len(attempts)


def prune_sign_in_records(*, now: datetime | None = None, chunk: int = 10_000) -> int:
    """Delete sign-in records (AccessLog) and sign-in failure records (AccessFailureLog) older
    than LOGIN_RECORDS_RETENTION_DAYS, in bounded chunks. Live failure counts (AccessAttempt)
    are not touched: axes drops them once their cool-off is over."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.LOGIN_RECORDS_RETENTION_DAYS)
    deleted = 0
    for model in (AccessFailureLog, AccessLog):
        while ids := list(model.objects.filter(attempt_time__lt=cutoff).values_list("pk", flat=True)[:chunk]):
            deleted += model.objects.filter(pk__in=ids).delete()[0]
    return deleted


# --- people's accounts ------------------------------------------------------------------------

USER_FIELDS = (
    "username", "first_name", "last_name", "email", "time_zone", "is_active", "is_staff", "is_superuser",
    "last_login", "date_joined",
)  # fmt: skip


def _require_admin(actor) -> None:
    if actor is not None and not (getattr(actor, "is_active", False) and actor.is_superuser):
        raise NotAllowed("Only superusers administer accounts.")


def _validated(user) -> None:
    try:
        user.full_clean(exclude=["password"])
    except ValidationError as exc:
        if hasattr(exc, "error_dict"):
            name, errors = next(iter(exc.error_dict.items()))
            raise InvalidInput(" ".join(e.messages[0] for e in errors), field=name) from None
        raise InvalidInput(" ".join(exc.messages)) from None


def _apply_password(user, password: str | None) -> None:
    """Set ``password`` (checked by the password validators) or, when None, switch password
    sign-in off for the account."""
    if not password:
        user.set_unusable_password()
        return
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise InvalidInput(" ".join(exc.messages), field="password1") from None
    user.set_password(password)


@transaction.atomic
def create_user(*, actor, username: str, password: str | None = None, **fields):
    """A new account; without a password it cannot sign in with one (SSO, or a reset link)."""
    _require_admin(actor)
    user = get_user_model()(username=username)
    for name, value in fields.items():
        if name in USER_FIELDS:
            setattr(user, name, value)
    _apply_password(user, password)
    _validated(user)
    user.save()
    return user


@transaction.atomic
def update_user(
    *, user, actor, groups: Iterable | None = None, user_permissions: Iterable | None = None, **fields
):
    """Edit an account: profile, active/staff/superuser flags, roles and extra permissions."""
    _require_admin(actor)
    locked = get_user_model().objects.select_for_update().get(pk=user.pk)
    if actor is not None and locked.pk == actor.pk and fields.get("is_superuser") is False:
        raise InvalidInput("You cannot take away your own superuser status.", field="is_superuser")
    if actor is not None and locked.pk == actor.pk and fields.get("is_active") is False:
        raise InvalidInput("You cannot deactivate your own account.", field="is_active")
    for name, value in fields.items():
        if name in USER_FIELDS:
            setattr(locked, name, value)
    _validated(locked)
    locked.save()
    if groups is not None:
        locked.groups.set(groups)
    if user_permissions is not None:
        locked.user_permissions.set(user_permissions)
    return locked


@transaction.atomic
def set_password(*, user, actor, password: str | None) -> None:
    """Set a new password, or (``None``) switch password sign-in off for the account."""
    _require_admin(actor)
    locked = get_user_model().objects.select_for_update().get(pk=user.pk)
    _apply_password(locked, password)
    locked.save(update_fields=["password"])
    user.password = locked.password


@transaction.atomic
def delete_user(*, user, actor) -> None:
    """Delete an account. Records that name the person keep their row (history, incidents)
    where the relation allows it; prefer deactivating people who did work here."""
    _require_admin(actor)
    if actor is not None and user.pk == actor.pk:
        raise InvalidInput("You cannot delete your own account.")
    user.delete()


PROFILE_FIELDS = ("first_name", "last_name", "time_zone")


@transaction.atomic
def update_own_profile(*, user, **fields):
    """A person edits their own name and time zone (every time on every page is shown in that
    zone). Anyone signed in may; nobody edits someone else's profile here."""
    locked = get_user_model().objects.select_for_update().get(pk=user.pk)
    for name, value in fields.items():
        if name not in PROFILE_FIELDS:
            raise InvalidInput(f"{name} cannot be changed on the profile page.", field=name)
        setattr(locked, name, value)
    _validated(locked)
    locked.save(update_fields=[*fields])
    for name in fields:
        setattr(user, name, getattr(locked, name))
    return locked
