"""Shared set-up for benchmark scripts: Django with a throwaway database.

Benchmarks print figures and ratios measured in the same run; they never assert timings.
The database is created fresh (``test_<name>`` on PostgreSQL, in memory on SQLite) and
dropped afterwards, so the development data is never touched.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opsportal.settings_test")


@contextlib.contextmanager
def django_with_fresh_db():
    import django

    django.setup()
    from django.test.utils import setup_databases, setup_test_environment, teardown_databases

    setup_test_environment()
    config = setup_databases(verbosity=0, interactive=False)
    try:
        yield
    finally:
        teardown_databases(config, verbosity=0)


def timed(fn: Callable[[], object], repeat: int = 20) -> dict:
    """Run ``fn`` ``repeat`` times after one warm-up; return median / p95 / min in ms."""
    fn()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return {
        "median_ms": round(statistics.median(samples), 2),
        "p95_ms": round(samples[min(len(samples) - 1, int(len(samples) * 0.95))], 2),
        "min_ms": round(samples[0], 2),
    }


def report(title: str, rows: list[tuple[str, object]]) -> None:
    print(f"\n== {title}")
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"  {key:<{width}}  {value}")
