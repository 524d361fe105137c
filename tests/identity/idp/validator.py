"""The provider's claims: e-mail (verified unless the person is in the "unverified" group),
name, preferred_username and ``groups`` (their IdP groups, minus the test-only ones).

Test-only misbehaviour, chosen per person through a "quirk:<name>" group, so the portal's
refusals are exercised against tokens a real provider issued:
``quirk:wrong_audience`` (aud is another client), ``quirk:expired`` (exp an hour ago),
``quirk:bad_signature`` (signed with a key the provider does not publish, same key id),
``quirk:no_email`` (no e-mail claim)."""

import base64
import json
import time

from jwcrypto import jwk, jwt
from oauth2_provider.oauth2_validators import OAuth2Validator


def _quirks(user) -> set[str]:
    return {g[6:] for g in user.groups.values_list("name", flat=True) if g.startswith("quirk:")}


class Validator(OAuth2Validator):
    oidc_claim_scope = None  # every claim for every scope: the portal asks what it needs

    def get_additional_claims(self, request):
        user = request.user
        names = list(user.groups.values_list("name", flat=True))
        quirks = _quirks(user)
        claims = {
            "preferred_username": user.username,
            "given_name": user.first_name,
            "family_name": user.last_name,
            "groups": sorted(n for n in names if not n.startswith("quirk:") and n != "unverified"),
        }
        if user.email and "no_email" not in quirks:
            claims["email"] = user.email
            claims["email_verified"] = "unverified" not in names
        return claims

    def get_id_token_dictionary(self, token, token_handler, request):
        claims, expiration = super().get_id_token_dictionary(token, token_handler, request)
        quirks = _quirks(request.user)
        if "wrong_audience" in quirks:
            claims["aud"] = "another-application"
        if "expired" in quirks:
            now = int(time.time())
            claims["iat"], claims["exp"] = now - 7200, now - 3600
        return claims, expiration

    def finalize_id_token(self, id_token, token, token_handler, request):
        serialized = super().finalize_id_token(id_token, token, token_handler, request)
        if "bad_signature" not in _quirks(request.user):
            return serialized
        header_b64, payload_b64, _ = serialized.split(".")
        pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
        header = json.loads(base64.urlsafe_b64decode(pad(header_b64)))
        payload = json.loads(base64.urlsafe_b64decode(pad(payload_b64)))
        forged = jwt.JWT(header=header, claims=payload)
        forged.make_signed_token(jwk.JWK.generate(kty="RSA", size=2048))
        return forged.serialize()
