"""Sign-in lockout, built on django-axes (settings: the *Sign-in lockout* block).

Every door that takes a secret counts failures in axes' tables: the admin login and
/accounts/login/ through Django's ``authenticate`` (axes' backend refuses while locked, its
middleware answers with ``lockout_response``), and API tokens through
``accounts.authentication`` (``api_refuse_if_locked`` / ``api_record_failure``).

Failures count per client address and per username, each on its own: LOGIN_FAILURE_LIMIT
failures from one address (a password spray over many accounts) or against one account (a
guess from many addresses) lock that address or account for LOGIN_COOLOFF_MINUTES; a failure
while locked starts the cool-off again. A successful sign-in forgets that account's failures
only, so signing in to your own account does not wipe the count of guesses you made at
someone else's. Records: AccessAttempt (live counts), AccessFailureLog (every failure),
AccessLog (every sign-in), plus a WARNING line on logger ``accounts.lockout`` per lockout.
"""

from __future__ import annotations

import ipaddress
import logging
import math

from axes.handlers.database import AxesDatabaseHandler
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_client_username
from axes.models import AccessAttempt, AccessBase
from axes.signals import user_locked_out
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.signals import user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest, JsonResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from rest_framework import exceptions

log = logging.getLogger(__name__)

LOCKED_MESSAGE = "Too many failed sign-in attempts."


def cooloff_seconds() -> int:
    return int(settings.AXES_COOLOFF_TIME.total_seconds())


def cooloff_text() -> str:
    minutes = math.ceil(cooloff_seconds() / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


# --- axes hooks (named in settings) -------------------------------------------------------


def client_ip(request) -> str | None:
    """AXES_CLIENT_IP_CALLABLE: REMOTE_ADDR, or with LOGIN_PROXY_COUNT = N trusted reverse
    proxies in front, the address the outermost of them saw: the N-th entry from the right of
    X-Forwarded-For (each proxy appends the address it received the request from). Entries
    further left were written by the client and are ignored, so a client cannot pick its own
    address to dodge the per-address count."""
    remote = _valid_ip(request.META.get("REMOTE_ADDR", ""))
    proxies = getattr(settings, "LOGIN_PROXY_COUNT", 0)
    if proxies:
        hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
        if len(hops) >= proxies:
            return _valid_ip(hops[-proxies]) or remote
    return remote


def _valid_ip(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


# axes stores the username in a 255-character column: a longer one (typed, pasted or sent by a
# script) would end the sign-in in a database error instead of "wrong username or password".
USERNAME_MAX_LENGTH = 255


def client_username(request, credentials=None) -> str | None:
    """AXES_USERNAME_CALLABLE: axes' own rule (the credentials, else the posted form field),
    cut to the column's length so a failure is always recorded."""
    field = settings.AXES_USERNAME_FORM_FIELD
    value = credentials.get(field) if credentials else getattr(request, "data", request.POST).get(field)
    return value[:USERNAME_MAX_LENGTH] if isinstance(value, str) else value


def lockout_parameters(request_or_attempt, credentials=None) -> list[str]:
    """AXES_LOCKOUT_PARAMETERS: count per address and per username, separately. A failure
    without a username (an unknown API token) counts for its address only; axes would
    otherwise lump every such failure from everywhere into one "no username" account."""
    if isinstance(request_or_attempt, AccessBase):
        username = request_or_attempt.username
    else:
        username = get_client_username(request_or_attempt, credentials)
    return ["ip_address", "username"] if username else ["ip_address"]


class LockoutHandler(AxesDatabaseHandler):
    """AXES_HANDLER: axes' database handler, except that a successful sign-in resets only the
    signed-in account's failures. (axes resets everything matching the request's address too,
    so an insider could clear the count of their guesses at a colleague's password by signing
    in to their own account from the same machine.)"""

    def reset_user_attempts(self, request, credentials=None) -> int:
        username = get_client_username(request, credentials)
        if not username:
            return 0
        count, _ = AccessAttempt.objects.filter(username=username).delete()
        return count


def lockout_response(request, original_response=None, credentials=None):
    """AXES_LOCKOUT_CALLABLE: the page shown instead of the login form while locked (429,
    with Retry-After). The admin login gets the admin's look, everything else the portal's."""
    message = f"{LOCKED_MESSAGE} Signing in is paused for {cooloff_text()}."
    if request.headers.get("x-requested-with") == "XMLHttpRequest" or request.path.startswith("/api/"):
        response = JsonResponse({"detail": message}, status=429)
    else:
        context = {"cooloff": cooloff_text(), "message": message}
        if request.path.startswith(_admin_prefix()):
            template = "admin/locked_out.html"
            context |= {
                **admin.site.each_context(request),
                "title": "Signing in is paused",
                "is_nav_sidebar_enabled": False,
            }
        else:
            template = "accounts/locked_out.html"
        response = TemplateResponse(request, template, context, status=429).render()
    response["Retry-After"] = str(cooloff_seconds())
    return response


def _admin_prefix() -> str:
    return reverse("admin:index")


@receiver(user_locked_out, dispatch_uid="accounts.lockout.log_lockout")
def log_lockout(sender, request, username, ip_address, **kwargs):
    log.warning(
        "sign-in locked out: username=%r ip=%s path=%s failures=%s (cool-off %s)",
        username,
        ip_address,
        getattr(request, "axes_path_info", ""),
        getattr(request, "axes_failures_since_start", None),
        cooloff_text(),
    )


# --- API tokens -----------------------------------------------------------------------------
# axes counts what Django's authenticate() reports; token checks do not go through it, so the
# token authentication reports its failures the same way (user_login_failed) and asks axes
# before checking a key. axes sees a plain request with the same address, headers and path
# and no body: the body of a refused request is never parsed.

NO_USERNAME = {"username": None}


class LockedOut(exceptions.Throttled):
    default_detail = f"{LOCKED_MESSAGE} Requests with a token from this address are refused for now."


def _axes_view(request) -> HttpRequest:
    original = getattr(request, "_request", request)
    view = HttpRequest()
    view.META = original.META
    view.method = original.method
    view.path = original.path
    view.path_info = original.path_info
    view.GET = original.GET
    return view


def api_refuse_if_locked(request) -> None:
    if not settings.AXES_ENABLED:
        return
    if not AxesProxyHandler.is_allowed(_axes_view(request), NO_USERNAME):
        raise LockedOut(wait=cooloff_seconds())


def api_record_failure(request, *, sender) -> None:
    """Count a failed token against the caller's address; raises ``LockedOut`` when this
    failure reaches the limit."""
    view = _axes_view(request)
    user_login_failed.send(sender=sender, credentials=NO_USERNAME, request=view)
    if getattr(view, "axes_locked_out", False):
        raise LockedOut(wait=cooloff_seconds())
