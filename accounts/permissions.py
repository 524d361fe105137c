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
