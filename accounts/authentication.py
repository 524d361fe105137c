"""DRF authentication for machines: ``Authorization: Token <key>`` against accounts.ApiToken.

knox's ``TokenAuthentication`` parses the header; the key is checked by
``accounts.services.authenticate_token`` (expired and revoked tokens are refused but kept,
last use recorded).
"""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from knox.auth import TokenAuthentication as KnoxTokenAuthentication
from rest_framework import exceptions

from accounts import services


class TokenAuthentication(KnoxTokenAuthentication):
    def authenticate_credentials(self, token: bytes):
        try:
            key = token.decode("utf-8")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        try:
            api_token = services.authenticate_token(key=key)
        except services.TokenRejected as exc:
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
