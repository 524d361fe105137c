"""Who is who: role checks used by views, admin and API (one place)."""

from __future__ import annotations

from accounts import roles


def has_role(user, role: str) -> bool:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    cache = getattr(user, "_role_names", None)
    if cache is None:
        cache = set(user.groups.values_list("name", flat=True))
        user._role_names = cache
    return role in cache


def has_any_role(user) -> bool:
    """Holds one of the role groups (or is a superuser): a person the portal knows a job of."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user.is_superuser:
        return True
    return any(has_role(user, role) for role in roles.ALL_ROLES)


def is_manager(user) -> bool:
    return bool(getattr(user, "is_superuser", False)) or has_role(user, roles.MANAGERS)


def is_responder(user) -> bool:
    return has_role(user, roles.RESPONDERS)


def is_support(user) -> bool:
    return has_role(user, roles.SUPPORT)


def is_release_lead(user) -> bool:
    return has_role(user, roles.RELEASE_LEADS)


def holds_staff_role(user) -> bool:
    """A manager, responder or release lead (or a superuser): people and machine accounts
    that work through the admin or the API, as opposed to support staff."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return bool(user.is_superuser) or any(has_role(user, role) for role in roles.STAFF_ROLES)


# --- API tokens -------------------------------------------------------------------------
# Creating a token hands out the owner's powers, so only the owner (holding a staff role)
# or a superuser (for a machine account) may; an engineering manager may not mint a token
# that acts as someone else. Revoking only takes power away, so managers may revoke anyone's
# tokens (a leaver, a leaked key) without being able to see them.


def can_create_token(actor, user) -> bool:
    if not getattr(actor, "is_authenticated", False) or not actor.is_active:
        return False
    if actor.is_superuser:
        return True
    return actor.pk == user.pk and holds_staff_role(actor)


def can_revoke_tokens_of(actor, user) -> bool:
    if not getattr(actor, "is_authenticated", False) or not actor.is_active:
        return False
    return actor.pk == user.pk or is_manager(actor)
