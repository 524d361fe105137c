"""Audit rows for sign-ins that do not go through identity's own views (passwords: the admin
login and /accounts/login/), sign-outs, and the session list deactivation ends."""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from identity import services
from identity.models import AuditEvent

OIDC_BACKEND = "identity.oidc.Backend"


@receiver(user_logged_in, dispatch_uid="identity.audit.logged_in")
def _logged_in(sender, request, user, **kwargs):
    if request is None:
        return
    oidc = getattr(user, "backend", "") == OIDC_BACKEND
    services.record(
        kind=AuditEvent.Kind.SIGN_IN,
        source=AuditEvent.Source.OIDC if oidc else AuditEvent.Source.PASSWORD,
        user=user,
        request=request,
        summary=f"{user.get_username()} signed in" + (" with single sign-on" if oidc else " with a password"),
    )
    if getattr(request, "session", None) is not None:
        if request.session.session_key is None:
            request.session.save()
        services.remember_session(user=user, session_key=request.session.session_key)


@receiver(user_logged_out, dispatch_uid="identity.audit.logged_out")
def _logged_out(sender, request, user, **kwargs):
    if request is None or user is None:
        return
    services.record(
        kind=AuditEvent.Kind.SIGN_OUT,
        source=AuditEvent.Source.OIDC
        if getattr(user, "backend", "") == OIDC_BACKEND
        else AuditEvent.Source.PASSWORD,
        user=user,
        request=request,
        summary=f"{user.get_username()} signed out",
    )


@receiver(user_login_failed, dispatch_uid="identity.audit.login_failed")
def _login_failed(sender, credentials, request=None, **kwargs):
    username = str(credentials.get("username") or "")
    if request is None or not username:
        return  # API token guesses are counted by accounts.lockout; no person named
    refused = getattr(request, "sso_only_refused", False)
    services.record(
        kind=AuditEvent.Kind.SIGN_IN_FAILED,
        source=AuditEvent.Source.PASSWORD,
        username=username,
        request=request,
        summary=f"password sign-in as {username!r} "
        + ("refused: password sign-in is off (SSO_ONLY)" if refused else "failed"),
        changes={"reason": "sso_only" if refused else "bad_credentials"},
    )
