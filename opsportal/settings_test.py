"""Settings for the test suite: the real settings, with development defaults, pinned.

The suite must answer the same whatever the caller's shell exports (a production-like box
with ``DEBUG=False``, ``SECURE_SSL_REDIRECT``, ``TIME_ZONE`` or ``EMAIL_URL`` set). So before
the real settings are read, every environment variable they read is removed from the
environment, except the two that choose the engines (``DATABASE_URL``, ``REDIS_URL``: CI runs
on PostgreSQL + Redis), and the development defaults the tests rely on are set explicitly.
The names are found in ``settings.py`` itself, so a variable added there is pinned without a
list to maintain here. Subprocesses the tests start (Celery workers, ``manage.py``) inherit
this cleaned environment; a marker stops them from pinning a second time (they must keep the
parent's SECRET_KEY to read its signed links).

pytest-django still runs tests with DEBUG=False; what DEBUG decides at import time (plain
HTTP, static files served from the finders, console e-mail) stays the development way.
"""

import os
import re
import secrets
from pathlib import Path

_MARKER = "OPSPORTAL_TEST_ENV_PINNED"
_KEEP = frozenset({"DATABASE_URL", "REDIS_URL"})

if os.environ.get(_MARKER) != "1":
    _source = Path(__file__).with_name("settings.py").read_text(encoding="utf-8")
    _read_by_settings = set(re.findall(r'"([A-Z][A-Z0-9_]{2,})"', _source))
    for _name in list(os.environ):
        _base = _name.removesuffix("_FILE")
        if _base in _read_by_settings and _base not in _KEEP:
            del os.environ[_name]
    os.environ.update({"SECRET_KEY": secrets.token_urlsafe(50), "DEBUG": "true", _MARKER: "1"})

from opsportal.settings import *  # noqa: E402, F403

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

# Every write made while serving an admin page must come from a service: the whole suite checks
# it (tests/write_audit.py), not only the tests written for it.
MIDDLEWARE = ["tests.write_audit.AdminWriteAudit", *MIDDLEWARE]  # noqa: F405
