"""Logging filters of the project."""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied
from django.http import Http404

EXPECTED = (PermissionDenied, Http404)


class ExpectedRefusals(logging.Filter):
    """A 403 or 404 that a view raised on purpose is logged as its one line ("Forbidden
    (Permission denied): /admin/...") without a traceback: it is an answer, not a fault.
    Everything else passes untouched."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, EXPECTED) and getattr(record, "status_code", 500) < 500:
            record.exc_info = None
            record.exc_text = None
        return True
