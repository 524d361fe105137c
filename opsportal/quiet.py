"""Quiet mode: import history (demo data, backfills) through the normal services without
notifying or paging anyone. One switch for every app, so a backfill that crosses apps
(an incident and its postmortem) is quiet everywhere at once."""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

_quiet = contextvars.ContextVar("opsportal_quiet", default=False)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Within this block, services write everything but send no notifications or pages."""
    token = _quiet.set(True)
    try:
        yield
    finally:
        _quiet.reset(token)


def is_quiet() -> bool:
    return _quiet.get()
