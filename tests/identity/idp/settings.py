"""A small, real OpenID Connect provider for the SSO tests: django-oauth-toolkit with OIDC
enabled, its own SQLite database, served by ``tests/identity/idp/serve.py`` in a child process.

Discovery, authorization code + PKCE, the token endpoint, JWKS (with key rotation: the control
endpoint makes a new key active and keeps the old one published as inactive) and userinfo are
django-oauth-toolkit's own views, written from the OpenID Connect Core and Discovery specs:
https://django-oauth-toolkit.readthedocs.io/en/latest/oidc.html
"""

import os

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def new_private_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


SECRET_KEY = os.environ.get("IDP_SECRET_KEY", "idp-test-only-secret-key-not-for-production-000000")
DEBUG = False
ALLOWED_HOSTS = ["*"]
USE_TZ = True
TIME_ZONE = "UTC"
ROOT_URLCONF = "tests.identity.idp.urls"
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "oauth2_provider",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["IDP_DATABASE"]}}
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [os.path.join(os.path.dirname(__file__), "templates")],
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]
# The portal's cookies are "sessionid"/"csrftoken": the provider's must not collide (cookies
# are per host, not per port).
SESSION_COOKIE_NAME = "idp_sessionid"
CSRF_COOKIE_NAME = "idp_csrftoken"
LOGIN_URL = "/login/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast, test-only
OAUTH2_PROVIDER = {
    "OIDC_ENABLED": True,
    "OIDC_RSA_PRIVATE_KEY": new_private_key(),
    "OIDC_RSA_PRIVATE_KEYS_INACTIVE": [],
    "PKCE_REQUIRED": True,
    "OAUTH2_VALIDATOR_CLASS": "tests.identity.idp.validator.Validator",
    "SCOPES": {
        "openid": "OpenID Connect",
        "email": "E-mail address",
        "profile": "Name",
        "groups": "Group membership",
    },
    "ALLOWED_REDIRECT_URI_SCHEMES": ["http", "https"],
}
CONTROL_TOKEN = os.environ["IDP_CONTROL_TOKEN"]
