"""SSO_ONLY: password sign-in refused for everyone but the break-glass superusers.

Sits before Django's ModelBackend. Raising PermissionDenied stops ``authenticate()`` at once
(the password is not even checked), so the refusal looks like any failed sign-in to the
person and to the lockout counter, and the sign-in pages say why (they hide the form unless
``?local=1``)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied


def may_use_password(username: str | None) -> bool:
    if not settings.SSO_ONLY:
        return True
    if not username:
        return False
    User = get_user_model()
    user = User.objects.filter(**{f"{User.USERNAME_FIELD}__iexact": username}).first()
    if user is None or not (user.is_active and user.is_superuser):
        return False
    allowed = {u.lower() for u in settings.SSO_BREAK_GLASS_USERS}
    return not allowed or user.get_username().lower() in allowed


class PasswordGate:
    # No get_user(): it never signs anyone in (and Django's test client's force_login picks
    # the first backend that has one).
    def authenticate(self, request, username=None, password=None, **kwargs):
        if password is None:
            return None  # not a password sign-in (OIDC, tokens)
        if username is None:
            username = kwargs.get(get_user_model().USERNAME_FIELD)
        if not may_use_password(username):
            if request is not None:
                request.sso_only_refused = True
            raise PermissionDenied("Password sign-in is off (SSO_ONLY); sign in with single sign-on.")
        return None
