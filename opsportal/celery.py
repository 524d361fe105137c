"""The one Celery app. Queues: critical (pages, notifications), probes, default."""

import os

from celery import Celery
from celery.signals import task_postrun, task_prerun
from kombu import Queue

from opsportal.workers import Heartbeat

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opsportal.settings")

app = Celery("opsportal")
app.config_from_object("django.conf:settings", namespace="CELERY")
# kombu's Redis transport, repaired so a worker survives a Redis restart while it holds a
# scheduled task (celery/kombu 5.7.0 crash it with an AttributeError): see opsportal/broker.py.
app.conf.broker_transport = "opsportal.broker:RedisTransport"
app.conf.task_queues = (
    Queue("critical", routing_key="critical"),
    Queue("probes", routing_key="probes"),
    Queue("default", routing_key="default"),
)
app.autodiscover_tasks()
# Every worker process beats per queue it consumes; /healthz and /metrics read the beats.
app.steps["consumer"].add(Heartbeat)


@task_prerun.connect
@task_postrun.connect
def _recycle_database_connections(sender=None, **_kwargs) -> None:
    """Database connections in a worker follow Django's per-request rules: kept for
    ``CONN_MAX_AGE``, health-checked, dropped after an error.

    Celery's Django fixup would otherwise close them before and after every task: each task
    then paid a new PostgreSQL backend with cold catalog caches (profiled: notification
    delivery statements ~50% slower per task). ``CELERY_DB_REUSE_MAX`` switches that off;
    eager tasks (inside a caller's transaction) are left alone, as the fixup does."""
    if getattr(getattr(sender, "request", None), "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()
