"""SLO test helpers: an SLO on a fresh service, and writing minute series into its rollups."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from slos import rollups, services
from slos.models import SLO
from tests.factories import ServiceFactory

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # a Monday noon, whole hour


def make_slo(*, objective="99", window="28d", kind=SLO.Kind.PUSHED_EVENTS, service=None, **fields) -> SLO:
    service = service or ServiceFactory()
    return services.save_slo(
        service=service, name=fields.pop("name", "Requests"), kind=kind, objective=Decimal(objective), window=window,
        owner_team=service.owner_team, description="Requests answered without a 5xx.", **fields,
    )  # fmt: skip


def write(slo: SLO, series: dict[datetime, tuple[int, int]]) -> None:
    if not series:
        return
    start = min(series)
    end = max(series) + timedelta(minutes=1)
    rollups.replace_minutes(slo.pk, start, end, series)


def steady(
    start: datetime, minutes: int, *, total: int = 100, bad: int = 0
) -> dict[datetime, tuple[int, int]]:
    return {start + timedelta(minutes=i): (total - bad, total) for i in range(minutes)}


@pytest.fixture
def slo(db):
    return make_slo()


# ---------------------------------------------------------------------------------------
# A real Prometheus (Debian package ``prometheus``) scraping an exporter the test controls.
#
# Docs followed: Prometheus "Exposition formats" (text format 0.0.4: ``metric value
# [timestamp_ms]``), "Configuration" (``scrape_interval``, ``honor_timestamps`` default true) and
# "HTTP API" (``/api/v1/query_range``, ``/-/ready``).
#
# The exporter plays a script of per-minute counter values with explicit timestamps: each
# scrape serves the next minute, so Prometheus ingests an hour and a half of synthetic minutes in
# a few seconds, in order, at timestamps in the recent past. The test then moves the portal's
# clock (time_machine) through that stretch and sweeps: the range queries read what Prometheus
# really stored, through the real PromQL engine.
# ---------------------------------------------------------------------------------------
import http.server  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"


class Exporter:
    def __init__(self, script: list[tuple[datetime, dict[str, float]]]):
        self.script = script
        self.index = 0
        self.lock = threading.Lock()
        exporter = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                with exporter.lock:
                    at, values = exporter.script[min(exporter.index, len(exporter.script) - 1)]
                ts = int(at.timestamp() * 1000)
                lines = []
                for name, value in sorted(values.items()):
                    lines += [f"# TYPE {name} counter", f"{name} {value:.0f} {ts}"]
                body = ("\n".join(lines) + "\n").encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                    self.wfile.flush()
                except OSError:
                    return  # the scrape timed out: serve the same minute again
                with exporter.lock:
                    exporter.index += 1

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def done(self) -> bool:
        with self.lock:
            return self.index > len(self.script) + 2

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class PrometheusServer:
    def __init__(self, tmp_path, exporter_port: int):
        config = tmp_path / "prometheus.yml"
        config.write_text(
            # The scrape's own series (up, scrape_duration_seconds) are written at the real now, so
            # the script's past minutes are out of order for the head: allow that window.
            "global:\n  scrape_interval: 150ms\n  scrape_timeout: 140ms\n"
            "storage:\n  tsdb:\n    out_of_order_time_window: 6h\n"
            "scrape_configs:\n  - job_name: slo-exporter\n    honor_timestamps: true\n"
            f"    static_configs:\n      - targets: ['127.0.0.1:{exporter_port}']\n"
        )
        self.proc = subprocess.Popen(
            [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
             "--web.listen-address=127.0.0.1:0", "--storage.tsdb.retention.time=1d"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.url = None
        deadline = time.monotonic() + 30
        for line in self.proc.stderr:
            match = re.search(r'msg="Listening on" address=(\S+)', line)
            if match:
                self.url = f"http://{match.group(1)}"
                break
            if time.monotonic() > deadline:
                break
        if self.url is None:
            self.proc.kill()
            raise RuntimeError("Prometheus did not start")
        self.log: list[str] = []
        threading.Thread(
            target=lambda: [self.log.append(line) for line in self.proc.stderr], daemon=True
        ).start()
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as r:  # noqa: S310 - loopback
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("Prometheus never became ready")

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
