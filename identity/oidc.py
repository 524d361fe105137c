"""OpenID Connect sign-in, built on mozilla-django-oidc (authorization code flow with state,
nonce and PKCE; its views keep them in the session and its backend exchanges the code).

What this module adds to the library:

- **Discovery**: endpoints, issuer and signing algorithms come from ``OIDC_DISCOVERY_URL``
  (cached for ``DISCOVERY_TTL``), so configuring a provider is three settings.
- **The one outbound-request guard** (``notifications.outbound``) for every request to the
  provider (discovery, token exchange, JWKS, userinfo) instead of ``requests``: an internal
  provider's network must be in ``OUTBOUND_ALLOWED_NETWORKS``.
- **Full ID token validation** (the library checks the signature and nonce only): issuer,
  audience (our client id; ``azp`` when there are several audiences), ``exp``/``iat``/``nbf``
  with ``OIDC_CLOCK_SKEW_SECONDS`` leeway, required ``sub``. Userinfo must carry the same
  ``sub`` as the ID token.
- **Key rotation**: the provider's JWKS is cached; a token signed with a key id we have not
  seen makes us fetch the JWKS again (once) before refusing it.
- **Clear refusals**: every problem raises ``identity.services.SignInRefused``; the callback
  view shows the reason on a page (403) and writes an audit row.
"""

from __future__ import annotations

import json
import logging
import time

import httpx
import jwt
from django.conf import settings
from django.contrib import auth
from django.core.cache import cache
from django.core.exceptions import SuspiciousOperation
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from identity import services
from identity.models import AuditEvent
from notifications import outbound

log = logging.getLogger(__name__)

DISCOVERY_TTL = 3600  # seconds a discovery document is reused
JWKS_TTL = 3600
_MAX_DOCUMENT = 512 * 1024


def enabled() -> bool:
    return bool(settings.OIDC_DISCOVERY_URL and settings.OIDC_RP_CLIENT_ID)


def _fetch(method: str, url: str, **kwargs) -> outbound.Answer:
    """One guarded request to the provider; failures become ``SignInRefused``."""
    try:
        with outbound.client(timeout=settings.OIDC_TIMEOUT) as client:
            return outbound.request(
                client, method, url, total_timeout=settings.OIDC_TIMEOUT, max_body=_MAX_DOCUMENT, **kwargs
            )
    except outbound.Refused as exc:
        log.warning("oidc: request to %s refused by the outbound guard: %s", url, exc)
        raise services.SignInRefused(
            "provider_unreachable",
            "The identity provider's address is not allowed (OUTBOUND_ALLOWED_NETWORKS).",
        ) from None
    except httpx.HTTPError as exc:
        log.warning("oidc: request to %s failed: %s", url, exc)
        raise services.SignInRefused(
            "provider_unreachable", "The identity provider did not answer; try again in a minute."
        ) from None


def _json(answer: outbound.Answer, what: str) -> dict:
    if answer.status_code != 200:
        log.warning("oidc: %s answered %s: %s", what, answer.status_code, answer.excerpt())
        raise services.SignInRefused("provider_error", f"The identity provider refused the {what}.")
    try:
        data = json.loads(answer.content)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise services.SignInRefused("provider_error", f"The identity provider's {what} is not JSON.")
    return data


def discovery() -> dict:
    """The provider's discovery document (``.well-known/openid-configuration``), cached."""
    url = settings.OIDC_DISCOVERY_URL
    key = f"identity:oidc:discovery:{url}"
    doc = cache.get(key)
    if doc is None:
        doc = _json(_fetch("GET", url), "discovery document")
        missing = [
            k for k in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri") if not doc.get(k)
        ]
        if missing:
            raise services.SignInRefused(
                "provider_error", f"The provider's discovery document lacks {', '.join(missing)}."
            )
        cache.set(key, doc, DISCOVERY_TTL)
    return doc


def jwks(*, refresh: bool = False) -> dict:
    uri = discovery()["jwks_uri"]
    key = f"identity:oidc:jwks:{uri}"
    keys = None if refresh else cache.get(key)
    if keys is None:
        keys = _json(_fetch("GET", uri), "key set")
        if not isinstance(keys.get("keys"), list):
            raise services.SignInRefused("provider_error", "The provider's key set has no keys.")
        cache.set(key, keys, JWKS_TTL)
    return keys


def _refuse_token(reason: str, message: str):
    raise services.SignInRefused(reason, message)


class Backend(OIDCAuthenticationBackend):
    """mozilla-django-oidc's backend with discovery, the outbound guard, full claim
    validation and just-in-time accounts (``identity.services.sign_in_from_claims``)."""

    def __init__(self, *args, **kwargs):
        # The library reads endpoints in __init__; Django builds a backend for every request
        # that has a session (get_user), so endpoints are looked up lazily instead.
        from django.contrib.auth import get_user_model

        self.UserModel = get_user_model()
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID
        self.OIDC_RP_CLIENT_SECRET = settings.OIDC_RP_CLIENT_SECRET
        self.OIDC_RP_SIGN_ALGO = settings.OIDC_RP_SIGN_ALGO
        self.OIDC_RP_IDP_SIGN_KEY = None

    @property
    def OIDC_OP_TOKEN_ENDPOINT(self):
        return discovery()["token_endpoint"]

    @property
    def OIDC_OP_USER_ENDPOINT(self):
        return discovery().get("userinfo_endpoint")

    @property
    def OIDC_OP_JWKS_ENDPOINT(self):
        return discovery()["jwks_uri"]

    def authenticate(self, request, **kwargs):
        if not enabled() or request is None or "code" not in request.GET:
            return None
        return super().authenticate(request, **kwargs)

    def get_user(self, user_id):
        user = super().get_user(user_id)
        return user if user is not None and user.is_active else None

    # --- talking to the provider, through the guard ---

    def get_token(self, payload):
        answer = _fetch(
            "POST",
            self.OIDC_OP_TOKEN_ENDPOINT,
            data=payload,
            headers={"Accept": "application/json"},
        )
        data = _json(answer, "code exchange")
        if not data.get("id_token"):
            raise services.SignInRefused("provider_error", "The identity provider sent no ID token.")
        return data

    def retrieve_matching_jwk(self, token):
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            _refuse_token("bad_token", "The ID token is not a valid JWT.")
        kid, alg = header.get("kid"), header.get("alg")
        for refresh in (False, True):  # an unknown key id: the provider rotated its keys
            for jwk in jwks(refresh=refresh)["keys"]:
                if kid is not None and jwk.get("kid") != kid:
                    continue
                if jwk.get("alg") and jwk["alg"] != alg:
                    continue
                if jwk.get("use") not in (None, "sig"):
                    continue
                try:
                    return jwt.PyJWK(jwk)
                except jwt.PyJWTError:
                    continue
        _refuse_token(
            "bad_signature", "The ID token was signed with a key the identity provider does not publish."
        )

    def _verify_jws(self, payload, key):
        try:
            alg = jwt.get_unverified_header(payload).get("alg")
        except jwt.PyJWTError:
            _refuse_token("bad_token", "The ID token is not a valid JWT.")
        if alg not in self.allowed_algorithms():
            _refuse_token(
                "bad_token", f"The ID token is signed with {alg!r}, which this portal does not accept."
            )
        try:
            claims = jwt.decode(
                payload,
                key,
                algorithms=[alg],
                audience=self.OIDC_RP_CLIENT_ID,
                issuer=discovery()["issuer"],
                leeway=settings.OIDC_CLOCK_SKEW_SECONDS,
                options={"require": ["exp", "iat", "sub", "aud", "iss"]},
            )
        except jwt.InvalidSignatureError:
            _refuse_token("bad_signature", "The ID token's signature does not verify.")
        except jwt.ExpiredSignatureError:
            _refuse_token("expired", "The ID token has expired (check the clocks, OIDC_CLOCK_SKEW_SECONDS).")
        except jwt.InvalidAudienceError:
            _refuse_token("wrong_audience", "The ID token was issued to another application (audience).")
        except jwt.InvalidIssuerError:
            _refuse_token("wrong_issuer", "The ID token was issued by another provider (issuer).")
        except jwt.ImmatureSignatureError:
            _refuse_token("not_yet_valid", "The ID token is not valid yet (check the clocks).")
        except jwt.PyJWTError as exc:
            _refuse_token("bad_token", f"The ID token is not acceptable: {exc}.")
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) > 1 and claims.get("azp") != self.OIDC_RP_CLIENT_ID:
            _refuse_token("wrong_audience", "The ID token names several audiences but not us as its party.")
        return claims

    def allowed_algorithms(self) -> list[str]:
        configured = [a.strip() for a in settings.OIDC_RP_SIGN_ALGO.split(",") if a.strip()]
        return [a for a in configured if a != "none" and not a.startswith("HS")] or ["RS256"]

    def verify_token(self, token, **kwargs):
        nonce = kwargs.get("nonce")
        key = self.retrieve_matching_jwk(token)
        claims = self._verify_jws(token, key)
        if nonce is not None and claims.get("nonce") != nonce:
            _refuse_token("bad_nonce", "The ID token does not answer this sign-in (nonce).")
        return claims

    def get_userinfo(self, access_token, id_token, payload):
        """ID token claims, completed by the userinfo endpoint (same ``sub`` required). The
        e-mail and its verification come from the ID token when it has them."""
        claims = dict(payload)
        endpoint = self.OIDC_OP_USER_ENDPOINT
        if endpoint and access_token:
            answer = _fetch("GET", endpoint, headers={"Authorization": f"Bearer {access_token}"})
            info = _json(answer, "userinfo request")
            if str(info.get("sub")) != str(payload.get("sub")):
                _refuse_token("subject_mismatch", "The userinfo answer is about someone else (sub).")
            for name, value in info.items():
                if name in ("iss", "aud", "sub", "nonce", "exp", "iat", "nbf", "azp"):
                    continue  # only the verified ID token says these
                if name in ("email", "email_verified") and name in claims:
                    continue
                claims[name] = value
        return claims

    def get_or_create_user(self, access_token, id_token, payload):
        claims = self.get_userinfo(access_token, id_token, payload)
        return services.sign_in_from_claims(issuer=payload["iss"], claims=claims, request=self.request)


# --- views ------------------------------------------------------------------------------------------


def _refusal_page(request, reason: str, message: str, *, username: str = "", user=None, status: int = 403):
    services.record(
        kind=AuditEvent.Kind.SIGN_IN_FAILED,
        source=AuditEvent.Source.OIDC,
        user=user,
        username=username,
        request=request,
        summary=f"single sign-on refused ({reason}): {message}",
        changes={"reason": reason},
    )
    return render(
        request,
        "identity/sign_in_failed.html",
        {"reason": reason, "message": message, "retry_url": reverse("identity:oidc-start")},
        status=status,
    )


class StartView(OIDCAuthenticationRequestView):
    """/sso/start/: redirect to the provider's authorization endpoint (state, nonce, PKCE)."""

    def __init__(self, *args, **kwargs):
        super(OIDCAuthenticationRequestView, self).__init__(*args, **kwargs)
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID

    def get(self, request):
        if not enabled():
            return _refusal_page(request, "not_configured", "Single sign-on is not configured.", status=404)
        try:
            self.OIDC_OP_AUTH_ENDPOINT = discovery()["authorization_endpoint"]
        except services.SignInRefused as exc:
            return _refusal_page(request, exc.reason, exc.message, status=503)
        return super().get(request)


class CallbackView(OIDCAuthenticationCallbackView):
    """/sso/callback/: the provider sends the browser back here with a code (or an error)."""

    def get(self, request):
        if request.GET.get("error"):
            error = str(request.GET.get("error"))[:100]
            description = str(request.GET.get("error_description", ""))[:300]
            return _refusal_page(
                request, "provider_denied", f"The identity provider said: {error} {description}".strip()
            )
        if "code" not in request.GET or "state" not in request.GET:
            return _refusal_page(
                request, "bad_request", "This page is only reached from the identity provider.", status=400
            )
        state = request.GET["state"]
        if state not in request.session.get("oidc_states", {}):
            return _refusal_page(
                request, "bad_state", "This sign-in expired or did not start here; start again.", status=400
            )
        try:
            response = super().get(request)
        except services.SignInRefused as exc:
            return _refusal_page(request, exc.reason, exc.message, username=exc.username, user=exc.user)
        except SuspiciousOperation as exc:
            return _refusal_page(request, "bad_request", str(exc), status=400)
        if not getattr(request.user, "is_authenticated", False):
            return _refusal_page(
                request, "locked_out", "Sign-in is locked for your address; try again later.", status=429
            )
        return response

    def login_success(self):
        auth.login(self.request, self.user, backend="identity.oidc.Backend")
        self.request.session["oidc_id_token_expiration"] = time.time() + 15 * 60
        return HttpResponseRedirect(self.success_url)
