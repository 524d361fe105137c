"""The cached public pages.

Every public page is rendered once per *version* and kept in the cache (Redis) for
``STATUS_PAGE_CACHE_SECONDS``; a change to anything public (incident, update, component,
maintenance) bumps the version on commit, so the next request rebuilds. While one request
rebuilds the front page the others get the previous copy (a stale key kept for a day), so
a traffic spike during an outage costs one rebuild, not one per request.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache

log = logging.getLogger(__name__)

VERSION_KEY = "status:version"
STALE_TTL = 86400


def ttl() -> int:
    return int(getattr(settings, "STATUS_PAGE_CACHE_SECONDS", 30))


def _version() -> int:
    try:
        version = cache.get(VERSION_KEY)
        if version is None:
            cache.add(VERSION_KEY, 1, None)
            version = cache.get(VERSION_KEY) or 1
        return int(version)
    except Exception:  # cache down: serve uncached rather than fail
        log.warning("status cache unavailable", exc_info=True)
        return 0


def invalidate() -> None:
    """Everything public changed: the next request of each page rebuilds it."""
    try:
        try:
            cache.incr(VERSION_KEY)
        except ValueError:
            cache.add(VERSION_KEY, 2, None)
    except Exception:
        log.warning("status cache unavailable; pages refresh when their TTL ends", exc_info=True)


# Per-process copy of the last value of each page: under load a request then costs one
# small Redis GET (the version), not the transfer of a whole page.
_local: dict[str, tuple[int, float, object]] = {}


def cached(name: str, build: Callable[[], object], *, stale_ok: bool = False):
    """The cached value of page ``name`` for the current version, building it on a miss."""
    version = _version()
    if version == 0:
        return build()
    hit = _local.get(name)
    if hit is not None and hit[0] == version and hit[1] > time.monotonic():
        return hit[2]
    value, fresh = _shared(name, version, build, stale_ok=stale_ok)
    if fresh:
        if len(_local) > 256:
            _local.clear()
        _local[name] = (version, time.monotonic() + ttl(), value)
    return value


def _shared(name: str, version: int, build: Callable[[], object], *, stale_ok: bool) -> tuple[object, bool]:
    key = f"status:{version}:{name}"
    try:
        value = cache.get(key)
    except Exception:
        return build(), False
    if value is not None:
        return value, True
    stale_key = f"status:stale:{name}"
    # One rebuild at a time; the others serve the previous copy if there is one.
    if stale_ok and not cache.add(f"status:lock:{name}", 1, 30):
        stale = cache.get(stale_key)
        if stale is not None:
            return stale, False
    value = build()
    try:
        cache.set(key, value, ttl())
        if stale_ok:
            cache.set(stale_key, value, STALE_TTL)
            cache.delete(f"status:lock:{name}")
    except Exception:
        log.warning("status cache unavailable", exc_info=True)
    return value, True
