"""Alert ingestion under gunicorn, and webhook-to-page latency with a real worker.

1. Storm: 10,000 Alertmanager alerts with 200 distinct fingerprints (20 alert names x 10
   instances; Alertmanager groups by alert name, so each webhook carries one name's 10 alerts:
   1,000 webhooks) posted as fast as the load generator can (2 processes x 8 threads, a new
   connection per request) to gunicorn (2 workers x 8 threads), against the trivial view on
   the same server in the same run. Afterwards: exactly 200 alerts (occurrences adding up to
   10,000: nothing lost), 20 groups, and the pages the rules imply - with the default storm
   threshold (10 new paging groups a minute per service): 10 group pages + 1 storm page.
2. Latency: 20 webhooks, one at a time, each a new alert on its own service; with one Celery
   worker (solo pool) delivering the outbox, the time from sending the webhook to the page's
   first notification marked sent by the channel (e-mail, in-memory backend).
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, date, datetime

from _harness import ROOT, django_with_fresh_db, report

THREADS = 8
NAMES, INSTANCES, TOTAL = 20, 10, 10_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def webhook(name: int, *, status: str = "firing", instances: int = INSTANCES) -> bytes:
    starts = "2026-03-03T09:00:00Z"
    return json.dumps({
        "version": "4", "groupKey": f'{{}}:{{alertname="Bench{name}"}}', "status": status, "receiver": "portal",
        "alerts": [{"status": status, "labels": {"alertname": f"Bench{name}", "instance": f"host-{i}",
                                                 "severity": "critical"},
                    "annotations": {"summary": f"Bench {name} on host-{i}", "runbook_url": "https://rb.example.com/b"},
                    "startsAt": starts, "fingerprint": f"fp-{name}-{i}"} for i in range(instances)],
    }).encode()  # fmt: skip


def _hammer(args) -> tuple[int, list[float], int]:
    port, jobs, threads = args
    import threading

    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    queue = list(jobs)

    def loop():
        mine = []
        while True:
            with lock:
                if not queue:
                    break
                path, body = queue.pop()
            started = time.perf_counter()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            try:
                if body is None:
                    conn.request("GET", path)
                else:
                    conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
                response = conn.getresponse()
                response.read()
                if response.status not in (200, 202):
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
    started = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return errors[0], latencies, int((time.perf_counter() - started) * 1000)


def load(port: int, jobs: list[tuple[str, bytes | None]]) -> dict:
    halves = [jobs[0::2], jobs[1::2]]
    started = time.perf_counter()
    with multiprocessing.Pool(2) as pool:
        parts = pool.map(_hammer, [(port, half, THREADS) for half in halves])
    elapsed = time.perf_counter() - started
    latencies = sorted(lat for _, lats, _ in parts for lat in lats)
    return {
        "ok": len(latencies),
        "seconds": elapsed,
        "rps": len(latencies) / elapsed,
        "p50": latencies[len(latencies) // 2] * 1000,
        "p99": latencies[int(len(latencies) * 0.99)] * 1000,
        "errors": sum(e for e, _, _ in parts),
    }


def _db_url() -> str:
    from django.db import connection

    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _world(n_services: int = 1):
    from accounts.models import User
    from catalog.models import Service, Team
    from oncall.models import EscalationLevel, EscalationPolicy, LayerMember, RotationLayer, Schedule

    team = Team.objects.create(name="Bench", slug="bench")
    user = User.objects.create_user("oncall", "oncall@example.com", "x")
    schedule = Schedule.objects.create(team=team, name="Primary", time_zone="UTC")
    layer = RotationLayer.objects.create(schedule=schedule, position=1, start_date=date(2020, 1, 6))
    LayerMember.objects.create(layer=layer, user=user, position=0)
    policy = EscalationPolicy.objects.create(team=team, name="Bench primary", is_team_default=True)
    EscalationLevel.objects.create(policy=policy, position=1, delay_minutes=30).schedules.add(schedule)
    return [
        Service.objects.create(name=f"Bench {i}", slug=f"bench-{i}", owner_team=team)
        for i in range(n_services)
    ]


def _gunicorn(port: int, env: dict) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "2", "-k", "gthread", "--threads", str(THREADS),
         "-b", f"127.0.0.1:{port}", "--log-level", "warning", "opsportal.wsgi:application"],
        cwd=ROOT, env=env,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/bench/trivial")
            if conn.getresponse().status == 200:
                return proc
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _env(secret: str) -> dict:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "benchmarks._probes_settings",
        "DATABASE_URL": _db_url(),
        "DEBUG": "false",
        "SECRET_KEY": secret,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "LOG_LEVEL": "WARNING",
        "EMAIL_URL": "memorymail://",
    }
    return env


def storm() -> list[tuple[str, object]]:
    from django.conf import settings
    from django.db.models import Sum

    from alerts.models import Alert, AlertGroup
    from alerts.services import integrations
    from oncall.models import Page

    [service] = _world()
    integration, key = integrations.create_integration(
        actor=None, service=service, name="Prometheus", kind="alertmanager", rate_limit_per_minute=1_000_000
    )
    path = f"/integrations/{key}/alertmanager"
    per_request = INSTANCES
    jobs = [(path, webhook(n % NAMES)) for n in range(TOTAL // per_request)]
    port = _free_port()
    proc = _gunicorn(port, _env(settings.SECRET_KEY))
    try:
        load(port, [("/bench/trivial", None)] * 200)  # warm up
        trivial = load(port, [("/bench/trivial", None)] * 2000)
        ingest = load(port, jobs)
        trivial_after = load(port, [("/bench/trivial", None)] * 2000)
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    alerts = Alert.objects.filter(integration=integration)
    occurrences = alerts.aggregate(n=Sum("occurrences"))["n"] or 0
    groups = AlertGroup.objects.filter(integration=integration)
    pages = Page.objects.filter(service=service)
    trivial_rps = (trivial["rps"] + trivial_after["rps"]) / 2
    alerts_per_s = ingest["ok"] * per_request / ingest["seconds"]
    return [
        ("webhooks / alerts sent", f"{len(jobs)} / {len(jobs) * per_request} ({NAMES * INSTANCES} fingerprints)"),
        ("ingest: webhooks/s, alerts/s", f"{ingest['rps']:.0f} req/s, {alerts_per_s:.0f} alerts/s (goal >= 1,000)"),
        ("ingest latency p50 / p99 (goal p99 <= 100 ms)", f"{ingest['p50']:.1f} / {ingest['p99']:.1f} ms"),
        ("trivial view: req/s, p99", f"{trivial_rps:.0f} req/s, p99 {trivial['p99']:.1f} ms"),
        ("ingest req/s / trivial req/s", f"{100 * ingest['rps'] / trivial_rps:.0f}%"),
        ("non-2xx answers", ingest["errors"]),
        ("alerts stored (expected 200)", alerts.count()),
        ("occurrences counted (expected 10,000: 0 lost)", occurrences),
        ("groups / paged / stormed", f"{groups.filter(is_storm=False).count()} / "
         f"{groups.filter(disposition='paged', is_storm=False).count()} / {groups.filter(disposition='storm').count()}"),
        ("pages (expected 10 + 1 storm page)", pages.count()),
    ]  # fmt: skip


def latency() -> list[tuple[str, object]]:
    from django.conf import settings

    from alerts.services import integrations
    from catalog.models import Service, Team
    from notifications.models import Notification
    from oncall.models import Page

    team = Team.objects.get(slug="bench")
    services_ = [
        Service.objects.create(name=f"Latency {i}", slug=f"latency-{i}", owner_team=team) for i in range(20)
    ]
    keys = [
        integrations.create_integration(actor=None, service=s, name="AM", kind="alertmanager")[1]
        for s in services_
    ]
    env = _env(settings.SECRET_KEY)
    port = _free_port()
    proc = _gunicorn(port, env)
    worker_env = {k: v for k, v in env.items() if k != "DJANGO_SETTINGS_MODULE"}
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "opsportal", "worker", "-Q", "critical,default", "-P", "solo",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "WARNING"],
        cwd=ROOT, env=worker_env,
    )  # fmt: skip
    samples = []
    try:
        from opsportal.celery import app

        deadline = time.monotonic() + 60
        while not app.control.ping(timeout=0.5) and time.monotonic() < deadline:
            time.sleep(0.2)
        for service, key in zip(services_, keys, strict=True):
            sent_at = datetime.now(UTC)
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("POST", f"/integrations/{key}/alertmanager", body=webhook(99, instances=1),
                         headers={"Content-Type": "application/json"})  # fmt: skip
            assert conn.getresponse().status == 202
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                page = Page.objects.filter(service=service).first()
                done = (
                    Notification.objects.filter(
                        event_key__startswith=f"oncall:page:{page.pk}:", status="sent"
                    )
                    .order_by("sent_at")
                    .values_list("sent_at", flat=True)
                    .first()
                    if page
                    else None
                )
                if done:
                    samples.append((done - sent_at).total_seconds() * 1000)
                    break
                time.sleep(0.01)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        proc.terminate()
        proc.wait(timeout=15)
    samples.sort()
    if not samples:
        return [("webhook -> first page notification sent", "no notification was sent")]
    return [
        ("webhooks (one new alert each, own service)", len(samples)),
        ("webhook -> page notification sent: p50 (goal <= 1 s)", f"{statistics.median(samples):.0f} ms"),
        ("... p90 / max", f"{samples[int(len(samples) * 0.9)]:.0f} / {samples[-1]:.0f} ms"),
    ]


def main() -> None:
    with django_with_fresh_db():
        from django.db import connection

        if connection.vendor != "postgresql":
            print(
                "alerts_ingest needs PostgreSQL (gunicorn and the worker share the database): set DATABASE_URL"
            )
            return
        report(
            "Alertmanager storm through gunicorn -w 2 --threads 8 (load: 2 processes x 8 threads)", storm()
        )
        report("webhook to first page notification, one Celery worker (solo)", latency())


if __name__ == "__main__":
    main()
