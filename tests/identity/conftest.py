"""A real OpenID Connect provider for the SSO tests (tests/identity/idp: django-oauth-toolkit
with OIDC, in a child process on a free 127.0.0.1 port), the portal configured against it, and
a helper that signs in through it the way a browser does (authorize -> the provider's login
form -> redirect back with a code), so discovery, code + PKCE, the token exchange, JWKS and
userinfo are all real HTTP.

Specs the provider implements (django-oauth-toolkit's OIDC support):
OpenID Connect Core 1.0 https://openid.net/specs/openid-connect-core-1_0.html,
Discovery 1.0 https://openid.net/specs/openid-connect-discovery-1_0.html,
PKCE https://datatracker.ietf.org/doc/html/rfc7636,
https://django-oauth-toolkit.readthedocs.io/en/latest/oidc.html
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
CLIENT_ID = "ops-portal"
CLIENT_SECRET = "portal-client-secret-" + secrets.token_hex(8)
PASSWORD = "correct horse battery staple"


@dataclass
class Provider:
    url: str
    control_token: str

    @property
    def discovery_url(self) -> str:
        return f"{self.url}/o/.well-known/openid-configuration"

    def _post(self, path: str, data: dict) -> dict:
        r = httpx.post(
            f"{self.url}{path}", json=data, headers={"X-Control-Token": self.control_token}, timeout=30
        )
        r.raise_for_status()
        return r.json()

    def person(self, username: str, *, email: str | None = None, groups=(), first="", last="") -> None:
        self._post(
            "/control/user",
            {
                "username": username,
                "email": f"{username}@example.com" if email is None else email,
                "first_name": first,
                "last_name": last,
                "groups": list(groups),
                "password": PASSWORD,
            },
        )

    def register(self, *redirect_uris: str) -> None:
        self._post(
            "/control/app",
            {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "redirect_uris": list(redirect_uris)},
        )

    def rotate(self) -> dict:
        return self._post("/control/rotate", {})


@pytest.fixture(scope="session")
def idp():
    workdir = tempfile.mkdtemp(prefix="idp-")
    token = secrets.token_urlsafe(16)
    env = {
        **os.environ,
        "IDP_DATABASE": str(Path(workdir) / "idp.sqlite3"),
        "IDP_CONTROL_TOKEN": token,
        "DJANGO_SETTINGS_MODULE": "tests.identity.idp.settings",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.identity.idp.serve"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        if not line.startswith("PORT "):
            pytest.fail(f"the test identity provider did not start: {line!r}")
        provider = Provider(f"http://127.0.0.1:{int(line.split()[1])}", token)
        provider.register("http://testserver/sso/callback/")
        yield provider
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def sso(settings, idp):
    """The portal configured for the provider (what an operator sets: docs/sso.md)."""
    settings.OIDC_DISCOVERY_URL = idp.discovery_url
    settings.OIDC_RP_CLIENT_ID = CLIENT_ID
    settings.OIDC_RP_CLIENT_SECRET = CLIENT_SECRET
    settings.OIDC_RP_SCOPES = "openid email profile groups"
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]  # the provider runs on loopback
    settings.SSO_ROLE_MAP = "ops-managers:Engineering managers,oncall:Responders,support-desk:Support"
    settings.SSO_TEAM_MAP = ""
    settings.SSO_ONLY = False
    return idp


def provider_round_trip(authorize_url: str, username: str, password: str = PASSWORD) -> str:
    """What a browser does at the provider: follow the authorization request to its login
    form, sign in, and return the redirect back to the portal (with code and state)."""
    with httpx.Client(timeout=30) as browser:
        r = browser.get(authorize_url)
        if r.status_code == 302 and "/login/" in r.headers["location"]:
            login_url = urljoin(authorize_url, r.headers["location"])
            form = browser.get(login_url)
            assert form.status_code == 200
            r = browser.post(
                login_url,
                data={
                    "username": username,
                    "password": password,
                    "csrfmiddlewaretoken": browser.cookies["idp_csrftoken"],
                    "next": parse_qs(urlsplit(login_url).query).get("next", [""])[0],
                },
                headers={"Referer": login_url},
            )
            assert r.status_code == 302, r.text[:500]
            r = browser.get(urljoin(login_url, r.headers["location"]))
        assert r.status_code == 302, r.text[:500]
        return r.headers["location"]


def sign_in(client, username: str, *, password: str = PASSWORD, next_url: str = ""):
    """The whole sign-in through the portal's test client and the real provider; returns the
    portal's answer to the callback."""
    start = client.get("/sso/start/" + (f"?next={next_url}" if next_url else ""))
    assert start.status_code == 302, start.content[:300]
    back = provider_round_trip(start["Location"], username, password)
    parts = urlsplit(back)
    assert parts.path == "/sso/callback/", back
    return client.get(f"{parts.path}?{parts.query}")
