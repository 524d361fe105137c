"""Public status page under load.

1. Building the snapshot from the database (cold: 2,000 incidents, 30 components, 90 days
   of probe results) - what one request pays after a change signal.
2. ``/status/`` under gunicorn (2 workers, gthread) served from the cached snapshot, driven
   by a simple threaded Python load generator on 127.0.0.1 (keep-alive connections);
   ``/healthz`` measured in the same run as the baseline of a near-empty Django view.
   Target: >= 500 req/s for /status/.
"""

from __future__ import annotations

import http.client
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _harness import ROOT, django_with_fresh_db, report, timed

N_INCIDENTS = 2000
N_COMPONENTS = 30
N_PROBED = 10
RESULTS_PER_DAY = 24
LOAD_THREADS = 16
LOAD_SECONDS = 5.0


def seed() -> None:
    from catalog.models import Service, Team
    from incidents.defaults import ensure_severities
    from incidents.models import Incident, Severity, StatusUpdate
    from probes.models import Probe, ProbeResult
    from status.models import Component
    from tests.factories import UserFactory

    ensure_severities()
    author = UserFactory(username="bench")
    team = Team.objects.create(name="Bench", slug="bench")
    services = Service.objects.bulk_create(
        Service(name=f"Service {i}", slug=f"service-{i}", owner_team=team, tier="tier-1")
        for i in range(N_COMPONENTS)
    )
    Component.objects.bulk_create(
        Component(service=s, name=f"Component {i}", group=f"Group {i % 5}", order=i)
        for i, s in enumerate(services)
    )
    severities = list(Severity.objects.order_by("level"))
    now = datetime.now(UTC)
    incidents = []
    for i in range(N_INCIDENTS):
        started = now - timedelta(hours=2 + i * 1.2)  # ~100 days of history
        is_open = i < 3
        incidents.append(
            Incident(
                number=1001 + i,
                title=f"Incident {i}",
                severity=severities[i % 4],
                peak_severity=severities[i % 4],
                status="investigating" if is_open else "resolved",
                started_at=started,
                detected_at=started,
                mitigated_at=None if is_open else started + timedelta(minutes=40),
                resolved_at=None if is_open else started + timedelta(minutes=50),
            )
        )
    incidents = Incident.objects.bulk_create(incidents)
    through = Incident.services.through
    through.objects.bulk_create(
        through(incident_id=inc.pk, service_id=services[n % N_COMPONENTS].pk)
        for n, inc in enumerate(incidents)
    )
    StatusUpdate.objects.bulk_create(
        StatusUpdate(
            incident=inc, audience=aud, text=f"{aud} update {n}", author=author, status=inc.status,
            posted_at=inc.detected_at + timedelta(minutes=5),
        )
        for n, inc in enumerate(incidents)
        for aud in ("external", "internal")
    )  # fmt: skip
    probes = Probe.objects.bulk_create(
        Probe(name=f"probe {i}", service=services[i], kind="http", url=f"https://example.com/{i}")
        for i in range(N_PROBED)
    )
    rows = []
    for probe in probes:
        for hour in range(90 * RESULTS_PER_DAY):
            at = now - timedelta(hours=hour)
            ok = hour % 97 != 0
            rows.append(ProbeResult(probe=probe, checked_at=at, outcome="up" if ok else "down", ok=ok))
    ProbeResult.objects.bulk_create(rows, batch_size=5000)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _database_url(tmpdir: str) -> str:
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


def load(port: int, path: str, seconds: float = LOAD_SECONDS, threads: int = LOAD_THREADS) -> dict:
    """Each thread keeps one keep-alive connection and GETs ``path`` until time is up."""
    stop = time.monotonic() + seconds
    counts, errors, latencies = [0] * threads, [0] * threads, [[] for _ in range(threads)]

    def worker(n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while time.monotonic() < stop:
            started = time.perf_counter()
            try:
                conn.request("GET", path, headers={"Accept-Encoding": "gzip"})  # as browsers do
                response = conn.getresponse()
                response.read()
                if response.status != 200:
                    errors[n] += 1
            except OSError:
                errors[n] += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                continue
            latencies[n].append(time.perf_counter() - started)
            counts[n] += 1
        conn.close()

    started = time.monotonic()
    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.monotonic() - started
    lat = sorted(x for per in latencies for x in per)
    return {
        "rps": sum(counts) / elapsed,
        "p50": lat[len(lat) // 2] * 1000 if lat else float("nan"),
        "p99": lat[int(len(lat) * 0.99)] * 1000 if lat else float("nan"),
        "errors": sum(errors),
    }


def under_gunicorn() -> list[tuple[str, object]]:
    with tempfile.TemporaryDirectory() as tmpdir:
        port = _free_port()
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "opsportal.settings",
            "DATABASE_URL": _database_url(tmpdir),
            "DEBUG": "false",
            "SECRET_KEY": "benchmark-only-secret-key-not-used-anywhere-else-0123456789",
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "false",
            "CACHE_KEY_PREFIX": f"status-bench-{os.getpid()}",
            "LOG_LEVEL": "WARNING",
        }
        gunicorn = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-w", "2", "-k", "gthread", "--threads", "4",
             "-b", f"127.0.0.1:{port}", "--log-level", "warning", "opsportal.wsgi:application"],
            cwd=ROOT, env=env,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                    conn.request("GET", "/status/", headers={"Accept-Encoding": "gzip"})
                    first = conn.getresponse()
                    body = first.read()
                    if first.status == 200:
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            load(port, "/status/", seconds=1)  # warm both workers
            load(port, "/healthz", seconds=1)
            status = load(port, "/status/")
            healthz = load(port, "/healthz")
            summary = load(port, "/status/api/summary.json")
        finally:
            gunicorn.terminate()
            gunicorn.wait(timeout=15)
    return [
        ("/status/ page size on the wire (gzip)", f"{len(body) / 1024:.0f} KiB"),
        ("/status/ (cached snapshot): req/s, p50, p99",
         f"{status['rps']:.0f} req/s, p50 {status['p50']:.1f} ms, p99 {status['p99']:.1f} ms (target >= 500 req/s)"),
        ("/status/api/summary.json: req/s", f"{summary['rps']:.0f} req/s, p99 {summary['p99']:.1f} ms"),
        ("/healthz baseline: req/s", f"{healthz['rps']:.0f} req/s, p99 {healthz['p99']:.1f} ms"),
        ("/status/ vs /healthz throughput", f"{100 * status['rps'] / healthz['rps']:.0f}%"),
        ("non-200 answers (status / summary / healthz)", f"{status['errors']} / {summary['errors']} / {healthz['errors']}"),
    ]  # fmt: skip


def main() -> None:
    with django_with_fresh_db():
        from django.db import connection

        from status import selectors

        started = time.perf_counter()
        seed()
        seeded = time.perf_counter() - started
        build = timed(lambda: selectors.snapshot(), repeat=5)
        report(
            f"status page: {N_INCIDENTS} incidents, {N_COMPONENTS} components, {connection.vendor}",
            [
                ("seed time", f"{seeded:.1f} s"),
                ("snapshot build from the database (cold, per change)", f"median {build['median_ms']} ms"),
            ],
        )
        report(
            f"gunicorn -w 2 -k gthread --threads 4, load: {LOAD_THREADS} threads x {LOAD_SECONDS:.0f} s",
            under_gunicorn(),
        )


if __name__ == "__main__":
    main()
