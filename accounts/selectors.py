"""Reads for accounts: which API tokens a person may see."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import ApiToken


def tokens_visible_to(user) -> QuerySet[ApiToken]:
    """Everyone sees their own tokens; superusers see all. Managers may revoke other people's
    tokens (accounts.services.revoke_user_tokens) but never list them."""
    tokens = ApiToken.objects.select_related("user", "revoked_by", "created_by")
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return tokens.none()
    if user.is_superuser:
        return tokens
    return tokens.filter(user=user)
