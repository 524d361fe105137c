"""One-click check-in links for reminders: signed, expiring, bound to one due point.

The token only says *which* duty and *which* due point; it is not a credential. Following
it shows a confirmation page after sign-in, and only a POST by someone allowed to check
the duty in (owner, backup, manager) records anything.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.core import signing

from opsportal.links import absolute_reverse

SALT = "operations.check-in"
DEFAULT_MAX_AGE_DAYS = 14


def max_age_seconds() -> int:
    return int(getattr(settings, "OPERATIONS_CHECK_IN_LINK_MAX_AGE_DAYS", DEFAULT_MAX_AGE_DAYS)) * 86400


def make_token(responsibility_id: int, due_at: datetime) -> str:
    return signing.dumps({"r": responsibility_id, "d": due_at.isoformat()}, salt=SALT, compress=True)


def read_token(token: str) -> tuple[int, datetime]:
    """(responsibility id, due point); raises ``signing.BadSignature`` (``SignatureExpired``
    included) for a forged, damaged or expired token."""
    data = signing.loads(token, salt=SALT, max_age=max_age_seconds())
    try:
        return int(data["r"]), datetime.fromisoformat(data["d"])
    except (KeyError, TypeError, ValueError) as exc:
        raise signing.BadSignature("malformed check-in token") from exc


def check_in_url(responsibility_id: int, due_at: datetime) -> str:
    return absolute_reverse("operations:check-in", token=make_token(responsibility_id, due_at))
