"""Probe settings, read from Django settings with documented defaults (README: Health probes).

| setting                       | default                      |
|-------------------------------|------------------------------|
| OUTBOUND_ALLOWED_NETWORKS     | [] (DEBUG: loopback)         | see notifications/outbound.py
| PROBE_CONCURRENCY             | 200 checks at once per batch |
| PROBE_BATCH_SIZE              | 1000 probes per worker task  |
| PROBE_DISPATCH_LIMIT          | 5000 probes leased per tick  |
| PROBE_BODY_CAP_BYTES          | 1 MiB read per response      |
| PROBE_CA_BUNDLE               | None (system trust store)    |
| PROBE_RESULT_RETENTION_DAYS   | 30                           |
| PROBE_PING_RATE               | "60/m" per ping URL          | per web process, see probes/ingest.py
| PROBE_PING_FLUSH_MS           | 250 (0: write before OK)     | see probes/ingest.py
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def _get(name: str, default):
    return getattr(settings, name, default)


def concurrency() -> int:
    return int(_get("PROBE_CONCURRENCY", 200))


def batch_size() -> int:
    return int(_get("PROBE_BATCH_SIZE", 1000))


def dispatch_limit() -> int:
    return int(_get("PROBE_DISPATCH_LIMIT", 5000))


def body_cap() -> int:
    return int(_get("PROBE_BODY_CAP_BYTES", 1_048_576))


def ca_bundle() -> str | None:
    return _get("PROBE_CA_BUNDLE", None) or None


def retention_days() -> int:
    return int(_get("PROBE_RESULT_RETENTION_DAYS", 30))


def ping_rate() -> str:
    return str(_get("PROBE_PING_RATE", "60/m"))


def ping_flush_seconds() -> float:
    """How long success pings may wait in a web process's buffer (0: written before OK)."""
    return max(0, int(_get("PROBE_PING_FLUSH_MS", 250))) / 1000


def ping_buffering() -> bool:
    """Success pings are buffered in the web process only on PostgreSQL (probes/ingest.py)."""
    from django.db import connection

    return ping_flush_seconds() > 0 and connection.vendor == "postgresql"


def ping_lateness_margin() -> timedelta:
    """How much later than its deadline a heartbeat is marked late: a ping that arrived in
    time may wait one flush interval (plus the write) in a web process's buffer."""
    return timedelta(seconds=ping_flush_seconds() + 1) if ping_buffering() else timedelta(0)


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def ping_rate_limit() -> tuple[int, int]:
    """``PROBE_PING_RATE`` (django-ratelimit syntax: ``60/m``, ``100/5m``) as (count,
    window seconds)."""
    rate = ping_rate()
    try:
        count, period = rate.split("/")
        multiplier, unit = period[:-1] or "1", period[-1]
        return int(count), int(multiplier) * _UNITS[unit]
    except (ValueError, KeyError, IndexError):
        raise ImproperlyConfigured(f"PROBE_PING_RATE {rate!r} is not like '60/m' or '100/5m'.") from None
