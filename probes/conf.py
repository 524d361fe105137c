"""Probe settings, read from Django settings with documented defaults (README: Health probes).

| setting                       | default                      |
|-------------------------------|------------------------------|
| PROBE_ALLOWED_NETWORKS        | [] (DEBUG: loopback)         | see probes/netguard.py
| PROBE_CONCURRENCY             | 200 checks at once per batch |
| PROBE_BATCH_SIZE              | 1000 probes per worker task  |
| PROBE_DISPATCH_LIMIT          | 5000 probes leased per tick  |
| PROBE_BODY_CAP_BYTES          | 1 MiB read per response      |
| PROBE_CA_BUNDLE               | None (system trust store)    |
| PROBE_RESULT_RETENTION_DAYS   | 30                           |
| PROBE_PING_RATE               | "60/m" per ping URL          |
"""

from __future__ import annotations

from django.conf import settings


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
