"""Run callables at the same moment in threads, for race tests on PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.db import connection


def run_concurrently(fns: list[Callable[[], object]], timeout: float = 60) -> list:
    """Start one thread per callable, release them together (a barrier) and return, in order,
    what each returned or the exception it raised. Every thread closes its own database
    session: left open (``close_old_connections`` keeps persistent ones) it outlives the test
    database and makes dropping it fail."""
    barrier = threading.Barrier(len(fns))
    results: list = [None] * len(fns)

    def run(i: int, fn: Callable[[], object]) -> None:
        try:
            barrier.wait(timeout=10)
            results[i] = fn()
        except BaseException as exc:
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(fns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    return results


def raised(results: list) -> list[BaseException]:
    return [r for r in results if isinstance(r, BaseException)]
