"""The portal's Redis cache backend (opsportal/cache.py), against the real Redis."""

from __future__ import annotations

import uuid

import pytest
from django.core.cache import cache, caches

from opsportal.cache import RedisCache, count_hit


def test_the_portal_uses_its_own_backend():
    assert isinstance(caches["default"], RedisCache)


def test_one_redis_client_per_pool_instead_of_one_per_operation():
    client = cache._cache.get_client(write=True)
    assert cache._cache.get_client(write=True) is client
    assert cache._cache.get_client() is client  # one server: reads use the same pool


def test_incr_keeps_djangos_contract_in_one_round_trip():
    key = f"incr-{uuid.uuid4()}"
    with pytest.raises(ValueError, match="not found"):
        cache.incr(key)
    cache.set(key, 5)
    assert cache.incr(key) == 6
    assert cache.incr(key, 10) == 16
    assert cache.get(key) == 16


def test_count_hit_counts_in_a_window_that_expires():
    key = f"hits-{uuid.uuid4()}"
    assert [count_hit(key, 60) for _ in range(3)] == [1, 2, 3]
    raw = cache._cache.get_client(write=True)
    full_key = cache.make_and_validate_key(key)
    assert 0 < raw.ttl(full_key) <= 60
    raw.persist(full_key)  # a window that lost its expiry (it cannot count forever)
    assert count_hit(key, 60) == 4
    assert 0 < raw.ttl(full_key) <= 60
    raw.delete(full_key)  # the window ended
    assert count_hit(key, 60) == 1


def test_count_hit_works_on_any_cache_backend(settings):
    settings.CACHES = {
        **settings.CACHES,
        "local": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "count-hit-test"},
    }
    key = f"hits-{uuid.uuid4()}"
    assert [count_hit(key, 60, alias="local") for _ in range(3)] == [1, 2, 3]
    caches["local"].clear()
