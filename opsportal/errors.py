"""Errors raised by service functions, shared by every app.

Services raise these; adapters translate them: the API answers 400/403/409 in DRF's shape,
the admin shows a message, forms show a field or form error. Never a 500.
"""

from __future__ import annotations


class ServiceError(Exception):
    """Base class: a request the domain refuses, with a message meant for people."""

    status_code = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(ServiceError):
    status_code = 400


class NotAllowed(ServiceError):
    """The actor may not do this."""

    status_code = 403


class Conflict(ServiceError):
    """The move is not allowed from the current state, or lost a race to another actor."""

    status_code = 409


class InUse(Conflict):
    """Deleting this would orphan rows that still reference it (PROTECT/RESTRICT foreign keys).

    ``referenced_by`` lists them (``{"model": "service", "id": 3, "name": "checkout"}``),
    capped at ``opsportal.db.REFERENCED_BY_LIMIT``; ``referenced_by_count`` counts them all.
    """

    def __init__(self, message: str, *, referenced_by: list[dict], referenced_by_count: int) -> None:
        super().__init__(message)
        self.referenced_by = referenced_by
        self.referenced_by_count = referenced_by_count
