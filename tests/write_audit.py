"""Every write made while serving an admin page comes from a service (the "every door" rule).

Installed by ``opsportal/settings_test.py`` as the first middleware, so every test that talks
to the admin - the hundreds of admin tests, the browser journeys, and the registry walk in
``tests/opsportal/test_admin_writes.py`` - also proves that rule: an INSERT, UPDATE or DELETE
sent to the database during an ``/admin/`` request whose call stack holds no frame of a
``services`` module of ours fails the request with :class:`WriteOutsideService`.

It watches SQL, not model signals, so ``QuerySet.update()``, bulk writes and raw SQL are
caught too. The exceptions are the framework's own bookkeeping, listed below with the reason
each is not a domain write.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from django.db import connections

ROOT = str(Path(__file__).resolve().parents[1])
# <app>/services.py or a module inside <app>/services/
SERVICE_FILE = re.compile(r"/[a-z_]+/services(?:\.py|/[a-z_]+\.py)$")
WRITE = re.compile(r'^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+[`"]?(\w+)', re.IGNORECASE)

# Framework bookkeeping written while serving admin pages (not state of ours).
BOOKKEEPING = {
    "django_admin_log",  # Django's admin action log
    "django_session",  # the session itself
    "django_content_type",  # created lazily on first lookup
    "axes_accessattempt",  # login failures (django-axes)
    "axes_accesslog",
    "axes_accessfailurelog",
}
# Writes made by Django's own sign-in (last_login), not by a page of ours.
SIGN_IN_FUNCTIONS = {"update_last_login", "login"}


class WriteOutsideService(AssertionError):
    pass


def _from_a_service(frame) -> bool:
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename.startswith(ROOT) and "/.venv/" not in filename and SERVICE_FILE.search(filename):
            return True
        if frame.f_code.co_name in SIGN_IN_FUNCTIONS and "django/contrib/auth" in filename:
            return True
        frame = frame.f_back
    return False


class AdminWriteAudit:
    """Wraps the database calls of every /admin/ request with the check above."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith("/admin/"):
            return self.get_response(request)
        path = request.path

        def guard(execute, sql, params, many, context):
            match = WRITE.match(sql)
            if match and match.group(1).lower() not in BOOKKEEPING and not _from_a_service(sys._getframe(1)):
                raise WriteOutsideService(
                    f"{match.group(1)} written outside a service while serving {path}: every admin save, "
                    "delete and action must call the app's services (see opsportal/admin_base.py)"
                )
            return execute(sql, params, many, context)

        with connections["default"].execute_wrapper(guard):
            return self.get_response(request)
