"""Health probes at scale.

1. Sweep: 1,000 HTTP probes against a local server (separate process) where 10% of the
   endpoints hang past the probes' 5 s timeout. One process runs the dispatcher tick and the
   batch exactly as a solo Celery worker would (dispatch_due + run_batch: lease, concurrent
   checks, bulk insert, state machine). Prints the sweep time, the ideal (the slowest single
   probe, measured alone) and their ratio, plus what a serial loop would need.
2. Ping endpoint under gunicorn (2 workers, 8 threads each): requests/s and p99 of
   GET /ping/<uuid> over 500 heartbeats (rate limit, buffered write, bulk flush, result row)
   against a trivial Django view on the same server, same run, same load generator
   (2 processes x 8 threads, new connection per request). The buffered pings are written by
   each worker's flusher thread during the load, so their database work is in the figure;
   after gunicorn's graceful stop, every ping answered OK must be a result row.
"""

from __future__ import annotations

import contextlib
import http.client
import multiprocessing
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _harness import ROOT, django_with_fresh_db, report

N_PROBES = 1000
HANG_SHARE = 0.10
TIMEOUT = 5.0
N_HEARTBEATS = 500  # pings spread over many jobs, as in production (one row per job)
THREADS = 8  # gunicorn threads per worker


@contextlib.contextmanager
def target_server():
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "benchmarks" / "_probes_server.py")], stdout=subprocess.PIPE, text=True
    )
    try:
        yield int(proc.stdout.readline())
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def sweep() -> list[tuple[str, object]]:
    from django.conf import settings

    from catalog.models import Service, Team
    from probes import services
    from probes.models import Probe, ProbeResult

    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    team = Team.objects.create(name="Bench", slug="bench")
    service = Service.objects.create(name="Bench", slug="bench", owner_team=team)
    rows = []
    with target_server() as port:
        hang_every = int(1 / HANG_SHARE)
        now = datetime.now(UTC)
        probes = Probe.objects.bulk_create(
            Probe(
                name=f"bench {i}",
                service=service,
                kind="http",
                timeout_seconds=TIMEOUT,
                next_run_at=now,
                url=f"http://127.0.0.1:{port}/{'hang' if i % hang_every == 0 else 'ok'}/{i}",
            )
            for i in range(N_PROBES)
        )
        hanging = sum(1 for p in probes if "/hang/" in p.url)

        started = time.perf_counter()
        report_ = services.dispatch_due(enqueue=False)
        for ids, token in report_.batches:
            services.run_batch(probe_ids=ids, lease_token=token)
        elapsed = time.perf_counter() - started
        stored = ProbeResult.objects.count()
        timed_out = ProbeResult.objects.filter(error__startswith="timed out").count()

        # The ideal: the slowest single probe (a hanging one) run alone through the same path.
        one = probes[0]
        Probe.objects.filter(pk=one.pk).update(next_run_at=datetime.now(UTC) - timedelta(seconds=1))
        started = time.perf_counter()
        for ids, token in services.dispatch_due(enqueue=False).batches:
            services.run_batch(probe_ids=ids, lease_token=token)
        ideal = time.perf_counter() - started
        fast = ProbeResult.objects.filter(ok=True).values_list("latency_ms", flat=True)
        fast_median = statistics.median(fast) if fast else 0
    serial = hanging * TIMEOUT + (N_PROBES - hanging) * fast_median / 1000
    rows += [
        ("probes / hanging past the timeout", f"{N_PROBES} / {hanging} (timeout {TIMEOUT:g} s)"),
        ("batches leased by one tick", len(report_.batches)),
        ("results stored / timed out", f"{stored} / {timed_out}"),
        ("sweep time (target <= 15 s)", f"{elapsed:.2f} s"),
        ("ideal: slowest single probe alone", f"{ideal:.2f} s"),
        ("ratio sweep / ideal", f"{elapsed / ideal:.2f}x"),
        ("serial loop would need (estimate)", f"{serial:.0f} s"),
        ("median latency of the fast probes", f"{fast_median:.1f} ms"),
    ]
    return rows


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _hammer(args) -> tuple[int, list[float]]:
    port, paths, seconds, threads = args
    import random
    import threading

    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def loop():
        mine = []
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            try:
                conn.request("GET", random.choice(paths))
                response = conn.getresponse()
                response.read()
                if response.status != 200:
                    errors[0] += 1
                    continue
            except OSError:
                errors[0] += 1
                continue
            finally:
                conn.close()
            mine.append(time.perf_counter() - started)
        with lock:
            latencies.extend(mine)

    pool = [threading.Thread(target=loop) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return errors[0], latencies


def load(port: int, paths: list[str], seconds: float) -> dict:
    with multiprocessing.Pool(2) as pool:
        parts = pool.map(_hammer, [(port, paths, seconds, 8)] * 2)
    latencies = sorted(lat for _, lats in parts for lat in lats)
    errors = sum(e for e, _ in parts)
    return {
        "ok": len(latencies),
        "rps": len(latencies) / seconds,
        "p50": latencies[len(latencies) // 2] * 1000 if latencies else float("nan"),
        "p99": latencies[int(len(latencies) * 0.99)] * 1000 if latencies else float("nan"),
        "errors": errors,
    }


def _database_url_for_workers(tmpdir: str) -> str:
    """gunicorn must see the benchmark's throwaway database: the PostgreSQL test database, or
    a file copy of the in-memory SQLite one."""
    from django.db import connection

    db = connection.settings_dict
    if connection.vendor == "postgresql":
        auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
        return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    path = Path(tmpdir) / "bench.sqlite3"
    connection.ensure_connection()
    target = sqlite3.connect(path)
    connection.connection.backup(target)
    target.close()
    return f"sqlite:///{path}"


def ping_under_gunicorn() -> list[tuple[str, object]]:
    from django.db import connection
    from django.db.models import Sum

    from probes.models import Probe, ProbeResult

    service_id = Probe.objects.values_list("service_id", flat=True).first()
    heartbeats = Probe.objects.bulk_create(
        Probe(
            name=f"bench heartbeat {i}",
            service_id=service_id,
            kind="heartbeat",
            period_seconds=60,
            grace_seconds=60,
            state="up",
        )
        for i in range(N_HEARTBEATS)
    )
    with tempfile.TemporaryDirectory() as tmpdir:
        port = _free_port()
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "benchmarks._probes_settings",
            "DATABASE_URL": _database_url_for_workers(tmpdir),
            "DEBUG": "false",
            "SECRET_KEY": "benchmark-only-secret-key-not-used-anywhere-else-0123456789",
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "false",
            "LOG_LEVEL": "WARNING",
        }
        gunicorn = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-w", "2", "-k", "gthread", "--threads", str(THREADS),
             "-b", f"127.0.0.1:{port}", "--log-level", "warning", "opsportal.wsgi:application"],
            cwd=ROOT, env=env,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                    conn.request("GET", "/bench/trivial")
                    if conn.getresponse().status == 200:
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            paths = {"trivial": ["/bench/trivial"], "ping": [f"/ping/{h.uuid}" for h in heartbeats]}
            load(port, paths["trivial"], 1)  # warm up both paths in both workers
            answered_ok = load(port, paths["ping"], 1)["ok"]
            rounds = {"trivial": [], "ping": []}
            for _ in range(2):  # interleaved, so drift hits both equally
                for name in rounds:
                    rounds[name].append(load(port, paths[name], 4))
            answered_ok += sum(r["ok"] for r in rounds["ping"])
        finally:
            gunicorn.terminate()  # graceful: each worker flushes what it still buffers
            gunicorn.wait(timeout=15)
    if connection.vendor == "postgresql":
        recorded = ProbeResult.objects.filter(probe__in=heartbeats).count()
        counted = Probe.objects.filter(pk__in=[h.pk for h in heartbeats]).aggregate(
            n=Sum("consecutive_successes")
        )["n"]
        recorded = f"{recorded} of {answered_ok} answered OK (lost: {answered_ok - recorded}; successes counted: {counted})"
    else:
        recorded = "(in the SQLite copy)"

    def agg(samples):
        return {
            "rps": statistics.mean(s["rps"] for s in samples),
            "p99": statistics.mean(s["p99"] for s in samples),
            "errors": sum(s["errors"] for s in samples),
        }

    trivial, ping = agg(rounds["trivial"]), agg(rounds["ping"])
    return [
        ("trivial view: req/s, p99", f"{trivial['rps']:.0f} req/s, p99 {trivial['p99']:.1f} ms"),
        ("ping endpoint: req/s, p99", f"{ping['rps']:.0f} req/s, p99 {ping['p99']:.1f} ms"),
        ("ping / trivial throughput (target >= 70%)", f"{100 * ping['rps'] / trivial['rps']:.0f}%"),
        ("non-200 answers (trivial / ping)", f"{trivial['errors']} / {ping['errors']}"),
        ("pings recorded as results", recorded),
    ]


def main() -> None:
    import logging

    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per request otherwise
    with django_with_fresh_db():
        from django.db import connection

        rows = sweep()
        report(f"probe sweep: {N_PROBES} HTTP probes, one process ({connection.vendor})", rows)
        report(
            f"ping endpoint under gunicorn -w 2 --threads {THREADS} (load: 2 processes x 8 threads)",
            ping_under_gunicorn(),
        )


if __name__ == "__main__":
    main()
