"""Notifications: 5,000 signed webhooks through the outbox with ONE Celery worker.

A local HTTP server (its own process, HTTP/1.1 keep-alive) counts what it receives by
delivery id. We compare:

- bare loop: one httpx client posting the same 5,000 bodies back to back (the ceiling);
- outbox:    notify() writes 5,000 rows, their delivery tasks go through the real Redis
             broker and one real Celery worker (solo pool, concurrency 1) claims, signs,
             posts and marks each row.

Prints throughput of both, the ratio (target >= 50%), and duplicates/losses counted by the
server (target: zero). Figures only, no assertions on timings. The rounds alternate the two
so both see the same machine load. ``BENCH_NOTIFICATIONS`` changes the count,
``BENCH_WORKER_LOG=INFO`` shows the worker's per-task timings.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from _harness import django_with_fresh_db, report

N = int(os.environ.get("BENCH_NOTIFICATIONS", "5000"))
BENCH_SECRET = "bench-secret-0123456789"  # noqa: S105 - throwaway local server

SERVER = textwrap.dedent(
    """
    import collections, json, sys, threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    seen = collections.Counter()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, *args):
            pass

        def _reply(self, body: bytes):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            key = self.headers.get("X-OpsPortal-Delivery", "")
            with lock:
                seen[key] += 1
            self._reply(b"ok")

        def do_GET(self):
            with lock:
                stats = {"requests": sum(seen.values()), "unique": len(seen),
                         "duplicates": sum(c - 1 for c in seen.values() if c > 1)}
                if self.path == "/reset":
                    seen.clear()
            self._reply(json.dumps(stats).encode())

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()
    """
)


def start_server():
    proc = subprocess.Popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True)
    port = int(proc.stdout.readline())
    return proc, f"http://127.0.0.1:{port}"


def stats(base: str, *, reset: bool = False) -> dict:
    import httpx

    return httpx.get(f"{base}/{'reset' if reset else 'stats'}", timeout=5).json()


def bare_loop(base: str, bodies: list[tuple[str, bytes]]) -> float:
    import httpx

    from notifications import signing

    with httpx.Client(timeout=httpx.Timeout(10, connect=5)) as client:
        started = time.perf_counter()
        for key, body in bodies:
            client.post(
                f"{base}/hook",
                content=body,
                headers={
                    "Content-Type": "application/json",
                    signing.SIGNATURE_HEADER: signing.sign(BENCH_SECRET, body),
                    signing.DELIVERY_HEADER: key,
                },
            )
        return time.perf_counter() - started


def main() -> None:
    import logging

    logging.getLogger("httpx").setLevel(logging.WARNING)  # the bare loop must not log every request
    server, base = start_server()
    try:
        with django_with_fresh_db():
            run(base)
    finally:
        server.terminate()
        server.wait()


@contextlib.contextmanager
def one_worker(app):
    """One Celery worker (solo pool, critical queue): its own process on PostgreSQL, a
    thread in this process on in-memory SQLite (a subprocess cannot see that database)."""
    from django.conf import settings
    from django.db import connection

    if connection.vendor != "postgresql":
        from celery.contrib.testing.worker import start_worker

        with start_worker(app, concurrency=1, pool="solo", perform_ping_check=False, shutdown_timeout=60):
            yield
        return
    db = settings.DATABASES["default"]
    url = f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    # Production-like worker: DEBUG off (no SQL debug cursor), the run's throwaway SECRET_KEY.
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "REDIS_URL": settings.REDIS_URL,
        "DEBUG": "false",
        "SECRET_KEY": settings.SECRET_KEY,
        "OUTBOUND_ALLOWED_NETWORKS": "127.0.0.0/8,::1/128",  # the local server is on loopback
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "opsportal", "worker", "-Q", "critical", "-P", "solo",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", os.environ.get("BENCH_WORKER_LOG", "WARNING")],
        cwd=Path(__file__).resolve().parents[1], env=env,
    )  # fmt: skip
    try:
        app.control.ping(timeout=0.5)
        deadline = time.monotonic() + 60
        while not app.control.ping(timeout=0.5) and time.monotonic() < deadline:
            time.sleep(0.2)
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def run(base: str) -> None:
    from django.db import connection, transaction

    from accounts.models import User
    from notifications import channels, services
    from notifications.models import Channel, ContactMethod, Notification
    from opsportal.celery import app

    user = User.objects.create_user("bench", "bench@example.com", "x")
    # Webhook only: the account e-mail method is switched off so every row is a webhook.
    ContactMethod.objects.create(user=user, channel=Channel.EMAIL, enabled=False)
    services.save_contact_method(
        actor=user, user=user, channel=Channel.WEBHOOK, url=f"{base}/hook", secret=BENCH_SECRET
    )
    context = {
        "title": "Checkout error rate above 5%",
        "url": "/admin/incidents/incident/1/",
        "severity": "SEV-2",
        "fields": [["Service", "checkout"], ["Probe", "https://checkout.example.com/health"]],
        "actions": [["Acknowledge", "/oncall/ack/x/"]],
    }

    def write(prefix: str, count: int) -> None:
        for i in range(count):
            services.notify(
                recipients=[user],
                kind="page",
                template="generic",
                context=context,
                idempotency_key=f"{prefix}-{i}",
            )

    # The bodies the bare loop posts: exactly what the outbox sends (from a dry run's rows).
    app.control.purge()
    with transaction.atomic():
        write("dry", N)
        dry = list(Notification.objects.select_related("contact_method", "recipient").order_by("pk"))
        bodies = [
            (f"bare-{n.pk}", json.dumps(channels.webhook_body(n), separators=(",", ":")).encode())
            for n in dry
        ]
        transaction.set_rollback(True)  # nothing published

    # Rounds alternate bare loop and outbox so both see the same machine load.
    rounds = 5
    per_round = N // rounds
    bare_s = outbox_s = write_s = 0.0
    stats(base, reset=True)
    with one_worker(app):
        for r in range(rounds):
            bare_s += bare_loop(base, bodies[r * per_round : (r + 1) * per_round])

            marks: dict[str, float] = {}
            started = time.perf_counter()
            with transaction.atomic():
                # first on-commit callback: delivery time starts when the rows are committed
                transaction.on_commit(lambda marks=marks: marks.setdefault("commit", time.perf_counter()))
                write(f"r{r}", per_round)
            while Notification.objects.filter(status__in=["pending", "sending"]).exists():
                time.sleep(0.02)
            done = time.perf_counter()
            write_s += marks["commit"] - started
            outbox_s += done - marks["commit"]
    got = stats(base)
    total = per_round * rounds
    sent = Notification.objects.filter(status="sent").count()
    not_sent = Notification.objects.exclude(status="sent").count()
    outbox_keys = got["unique"] - total  # the server also counted the bare loop's requests

    bare_rate = total / bare_s
    outbox_rate = total / outbox_s
    report(
        f"{total} signed webhooks, one Celery worker (solo), {connection.vendor}, {rounds} alternating rounds",
        [
            ("bare httpx loop (same bodies, same server)", f"{bare_s:.2f} s  ({bare_rate:,.0f}/s)"),
            ("outbox delivery (commit -> all rows sent)", f"{outbox_s:.2f} s  ({outbox_rate:,.0f}/s)"),
            ("ratio outbox / bare loop", f"{outbox_rate / bare_rate:.0%}  (target >= 50%)"),
            ("notify() writes (before commit, not in ratio)", f"{write_s:.2f} s  ({total / write_s:,.0f}/s)"),
            (
                "server: requests / unique / duplicates",
                f"{got['requests']} / {got['unique']} / {got['duplicates']}",
            ),
            (
                "outbox: received / lost / duplicated",
                f"{outbox_keys} / {total - outbox_keys} / {got['duplicates']}",
            ),
            ("rows sent / not sent", f"{sent} / {not_sent}"),
        ],
    )


if __name__ == "__main__":
    main()
