"""DRF authentication for machines: ``Authorization: Token <key>`` against accounts.ApiToken.

knox's ``TokenAuthentication`` parses the header; the key is checked by
``accounts.services.authenticate_token`` (expired and revoked tokens are refused but kept,
last use recorded). Sign-in lockout (accounts.lockout) covers tokens too: a locked address
gets 429 before any key is checked, and a key that matches no token counts as a failed
sign-in of the address. (Expired or revoked keys are real keys, not guesses: they get 401
without counting, so one forgotten cron job cannot lock a whole office out.)
"""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from knox.auth import TokenAuthentication as KnoxTokenAuthentication
from rest_framework import exceptions
from rest_framework.authentication import get_authorization_header

from accounts import lockout, services


class UnknownKey(exceptions.AuthenticationFailed):
    """A key that matches no token at all: what a guess looks like."""

    default_detail = "Invalid token."


class TokenAuthentication(KnoxTokenAuthentication):
    def authenticate(self, request):
        header = get_authorization_header(request).split()
        if not header or header[0].lower() != self.authenticate_header(request).lower().encode():
            return None  # not ours (no header, or another scheme)
        lockout.api_refuse_if_locked(request)
        try:
            return super().authenticate(request)
        except UnknownKey:
            lockout.api_record_failure(request, sender=type(self))  # 429 once at the limit
            raise

    def authenticate_credentials(self, token: bytes):
        try:
            key = token.decode("utf-8")
        except UnicodeDecodeError:
            raise UnknownKey from None
        try:
            api_token = services.authenticate_token(key=key)
        except services.TokenRejected as exc:
            if exc.guess:
                raise UnknownKey(exc.message) from None
            raise exceptions.AuthenticationFailed(exc.message) from None
        return api_token.user, api_token


class TokenScheme(OpenApiAuthenticationExtension):
    """The OpenAPI security scheme: ``Authorization: Token <key>``."""

    target_class = TokenAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return build_bearer_security_scheme_object(
            header_name="Authorization", token_prefix=self.target.authenticate_header(None)
        )
