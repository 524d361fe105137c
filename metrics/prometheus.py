"""The Prometheus exposition behind /metrics: gauges read fresh from the database on
every scrape (a handful of COUNT queries over partial indexes)."""

from __future__ import annotations

from datetime import datetime, timedelta

import redis
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import CollectorRegistry

from deployments import selectors as deployment_selectors
from metrics import selectors
from opsportal import workers
from slos import metrics as slo_metrics

CHANGE_FAILURE_DAYS = 30


class PortalCollector:
    def __init__(self, now: datetime):
        self.now = now

    def collect(self):
        open_incidents = GaugeMetricFamily(
            "opsportal_incidents_open", "Open incidents (drills excluded) by severity.", labels=["severity"]
        )
        for severity, count in selectors.open_incident_counts().items():
            open_incidents.add_metric([severity], count)
        yield open_incidents

        probes = GaugeMetricFamily("opsportal_probes", "Health probes by state.", labels=["state"])
        for state, count in selectors.probe_counts().items():
            probes.add_metric([state], count)
        yield probes

        yield from slo_metrics.families(self.now)

        yield GaugeMetricFamily(
            "opsportal_pages_awaiting_ack",
            "On-call pages triggered or exhausted and not yet acknowledged.",
            value=selectors.pages_awaiting_ack(),
        )
        yield GaugeMetricFamily(
            "opsportal_escalations_awaiting_ack",
            "Support escalations not yet acknowledged.",
            value=selectors.escalation_backlog(),
        )
        yield GaugeMetricFamily(
            "opsportal_action_items_overdue",
            "Unfinished postmortem action items past their due date.",
            value=selectors.overdue_action_item_count(self.now),
        )
        yield GaugeMetricFamily(
            "opsportal_postmortems_overdue",
            "Unpublished postmortems past their due time.",
            value=selectors.overdue_postmortem_count(self.now),
        )

        deployments = CounterMetricFamily(
            "opsportal_deployments",
            "Production deployments reported, by service and outcome (running, succeeded, failed, rolled_back).",
            labels=["service", "outcome"],
        )
        for (service, outcome), count in sorted(deployment_selectors.counts_by_service_and_status().items()):
            deployments.add_metric([service, outcome], count)
        yield deployments
        ratio = GaugeMetricFamily(
            "opsportal_change_failure_ratio",
            "Change failures / completed production deployments started in the last 30 days, by service.",
            labels=["service"],
        )
        since = self.now - timedelta(days=CHANGE_FAILURE_DAYS)
        for service, (failures, n) in sorted(deployment_selectors.change_failure_ratios(since).items()):
            ratio.add_metric([service], round(failures / n, 6) if n else 0.0)
        yield ratio

        outbox = selectors.notification_outbox(self.now)
        depth = GaugeMetricFamily(
            "opsportal_notification_outbox_depth",
            "Notifications waiting to be delivered, by status.",
            labels=["status"],
        )
        depth.add_metric(["pending"], outbox["pending"])
        depth.add_metric(["sending"], outbox["sending"])
        yield depth
        oldest = outbox["oldest_pending"]
        yield GaugeMetricFamily(
            "opsportal_notification_oldest_pending_age_seconds",
            "Age of the oldest pending notification (0 when none).",
            value=max((self.now - oldest).total_seconds(), 0.0) if oldest else 0.0,
        )
        failures = GaugeMetricFamily(
            "opsportal_notification_failures",
            "Notifications that failed for good, in the last 24 hours and all time.",
            labels=["window"],
        )
        failures.add_metric(["24h"], outbox["failed_24h"])
        failures.add_metric(["all"], outbox["failed"])
        yield failures


class WorkerCollector:
    """Worker liveness from the workers' own heartbeats (opsportal/workers.py), per queue.
    Redis unreadable: no samples (alert on ``absent(opsportal_worker_alive)`` too)."""

    def collect(self):
        alive = GaugeMetricFamily(
            "opsportal_worker_alive", "Celery workers with a live heartbeat, per queue.", labels=["queue"]
        )
        age = GaugeMetricFamily(
            "opsportal_worker_heartbeat_age_seconds",
            "Seconds since the newest worker heartbeat per queue (no sample: none in the last day).",
            labels=["queue"],
        )
        client = workers.client()
        try:
            report = workers.liveness(client, workers.queue_names())
        except redis.RedisError:
            report = {}
        finally:
            client.close()
        for queue, liveness in report.items():
            alive.add_metric([queue], liveness.alive)
            if liveness.last_heartbeat_age is not None:
                age.add_metric([queue], round(liveness.last_heartbeat_age, 3))
        yield alive
        yield age


def registry(now: datetime) -> CollectorRegistry:
    reg = CollectorRegistry(auto_describe=False)
    reg.register(PortalCollector(now))
    reg.register(WorkerCollector())
    return reg
