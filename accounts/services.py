"""Writes to people's accounts: the admin's user pages come through here.

Accounts are administered by superusers (engineering managers read the directory). Roles are
groups defined in code (``accounts.roles``); giving someone a role is a change of what they
may do, so it is a superuser's act and lands in the admin log with who did it.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from opsportal.errors import InvalidInput, NotAllowed

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


@transaction.atomic
def create_user(*, actor, username: str, password: str | None = None, **fields):
    """A new account; without a password it cannot sign in with one (SSO, or a reset link)."""
    _require_admin(actor)
    user = get_user_model()(username=username)
    for name, value in fields.items():
        if name in USER_FIELDS:
            setattr(user, name, value)
    if password:
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise InvalidInput(" ".join(exc.messages), field="password1") from None
        user.set_password(password)
    else:
        user.set_unusable_password()
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
    if password:
        try:
            validate_password(password, locked)
        except ValidationError as exc:
            raise InvalidInput(" ".join(exc.messages), field="password1") from None
        locked.set_password(password)
    else:
        locked.set_unusable_password()
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
