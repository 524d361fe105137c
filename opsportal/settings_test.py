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
# Pings are written before the answer: a test's data lives in its own open transaction, which
# the web process's flusher thread could not see. tests/probes/test_ingest.py runs the
# buffered path (the production default) on committed data.
PROBE_PING_FLUSH_MS = 0
# Tests talk to real local receivers on loopback: allow it explicitly (not through DEBUG's
# default), as an operator would. Guard tests set their own allow-list.
OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8", "::1/128"]
STATIC_ROOT.mkdir(exist_ok=True)  # noqa: F405  (WhiteNoise warns about a missing root)

# Parallel test workers (pytest-xdist) each get their own Redis database, so a real Celery
# worker started by one test process never consumes another process's tasks.
_xdist = os.environ.get("PYTEST_XDIST_WORKER", "")
if _xdist.startswith("gw") and REDIS_URL.startswith(("redis://", "rediss://")):  # noqa: F405
    from urllib.parse import urlsplit, urlunsplit

    _parts = urlsplit(REDIS_URL)  # noqa: F405
    _base = int(_parts.path.strip("/") or 0)
    _db = (_base + 1 + int(_xdist[2:])) % 16
    REDIS_URL = urlunsplit(_parts._replace(path=f"/{_db}"))
    CELERY_BROKER_URL = CELERY_RESULT_BACKEND = REDIS_URL
    CACHES["default"]["LOCATION"] = REDIS_URL  # noqa: F405
