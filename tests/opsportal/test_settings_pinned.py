"""The suite answers the same whatever the caller's shell exports (issue: with DEBUG=False
exported, admin tests got HTTPS redirects and browser journeys lost the admin's JavaScript)."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# What a production-like box exports: every one of these changed a test's answer before.
HOSTILE = {
    "DEBUG": "False",
    "SECRET_KEY": "from-the-shell",
    "SECURE_SSL_REDIRECT": "true",
    "SESSION_COOKIE_SECURE": "true",
    "TIME_ZONE": "Asia/Kathmandu",
    "EMAIL_URL": "smtp://mail.example.com:25",
    "SITE_URL": "https://ops.example.com",
    "STATUS_PAGE_ENABLED": "false",
    "ALLOWED_HOSTS": "ops.example.com",
    "ESCALATIONS_RATE_LIMIT": "1/m",
    "LOG_LEVEL": "ERROR",
    "VAR_DIR": "/nonexistent-var-dir-for-tests",
}

PROBE = """
import json
from django.conf import settings
import django
django.setup()
print(json.dumps({name: str(getattr(settings, name)) for name in (
    "DEBUG", "SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "TIME_ZONE", "EMAIL_BACKEND",
    "SITE_URL", "STATUS_PAGE_ENABLED", "ALLOWED_HOSTS", "ESCALATIONS_RATE_LIMIT", "LOG_LEVEL",
    "VAR_DIR", "WHITENOISE_USE_FINDERS", "STORAGES", "DATABASES", "REDIS_URL")}))
print("KEY=" + settings.SECRET_KEY)
"""


def _effective(extra: dict) -> tuple[dict, str]:
    env = {k: v for k, v in os.environ.items() if k != "OPSPORTAL_TEST_ENV_PINNED" and k not in HOSTILE}
    env.update(extra, DJANGO_SETTINGS_MODULE="opsportal.settings_test")
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    return json.loads(lines[-2]), lines[-1]


def test_exported_production_variables_do_not_change_the_test_settings():
    clean, _clean_key = _effective({})
    hostile, hostile_key = _effective(HOSTILE)
    assert hostile == clean
    assert (
        clean["DEBUG"] == "True"
    )  # import-time development defaults (pytest-django turns DEBUG off per test)
    assert clean["SECURE_SSL_REDIRECT"] == "False"
    assert hostile_key != "from-the-shell"


def test_child_processes_keep_the_parent_secret_key():
    """Workers started by tests inherit the pinned environment and must sign and read the same links."""
    from django.conf import settings

    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "opsportal.settings_test"}
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "KEY=" + settings.SECRET_KEY


def test_admin_test_passes_with_debug_false_exported():
    """The reported symptom: this admin test got an HTTPS redirect instead of the page."""
    env = {k: v for k, v in os.environ.items() if k != "OPSPORTAL_TEST_ENV_PINNED"}
    env.update(DEBUG="False", SECURE_SSL_REDIRECT="true")
    env.pop("PYTEST_XDIST_WORKER", None)
    env.pop("PYTEST_XDIST_TESTRUNUID", None)
    node = "tests/notifications/test_admin.py::test_400_is_failed_with_its_error_in_the_admin_and_resend_queues_it"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", node],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert "1 passed" in result.stdout
