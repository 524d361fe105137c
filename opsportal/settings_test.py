"""Settings for the test suite: the real settings, with development defaults.

A random SECRET_KEY per run (nothing secret in the repo) and DEBUG-style defaults so the
test client and the browser talk plain HTTP. pytest-django still runs tests with
DEBUG=False. DATABASE_URL / REDIS_URL come from the environment (CI: PostgreSQL + Redis).
"""

import os
import secrets

os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
os.environ.setdefault("DEBUG", "true")

from opsportal.settings import *  # noqa: F403

# Hashing with PBKDF2 dominates test time otherwise; production keeps Django's default.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CACHES["default"]["KEY_PREFIX"] = f"opsportal-test-{os.getpid()}"  # noqa: F405
STATIC_ROOT.mkdir(exist_ok=True)  # noqa: F405  (WhiteNoise warns about a missing root)
