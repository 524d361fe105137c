"""Per-user rate limit on filing escalations, shared by the form and the API.

django-ratelimit counts in the cache (Redis), keyed by user; the rate comes from the
``ESCALATIONS_RATE_LIMIT`` setting (default 30 per minute). Every POST counts, valid or not,
so a script hammering the form is slowed down whether it gets its fields right or not.
"""

import logging

from django.conf import settings
from django_ratelimit import ALL
from django_ratelimit.core import is_ratelimited

log = logging.getLogger(__name__)

GROUP = "escalations.submit"


def rate() -> str:
    return getattr(settings, "ESCALATIONS_RATE_LIMIT", "30/m")


def _key(group, request) -> str:
    return f"user:{request.user.pk}"


def over_limit(request) -> bool:
    """Count this submission and say whether the user is over the limit.

    Fails open when the cache is unreachable: a Redis outage must not stop a support agent
    from escalating a customer problem (the escalation itself only needs the database).
    """
    try:
        return is_ratelimited(request, group=GROUP, key=_key, rate=rate(), method=ALL, increment=True)
    except Exception:
        log.warning("escalation rate limit unavailable (cache down?); allowing the submission", exc_info=True)
        return False


LIMIT_MESSAGE = (
    "You have filed a lot of escalations in the last minute, so we paused the form to protect "
    "on-call from a runaway script. Please wait a minute and send it again - nothing was lost "
    "from what you typed."
)
