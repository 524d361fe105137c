"""The one Celery app. Queues: critical (pages, notifications), probes, default."""

import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opsportal.settings")

app = Celery("opsportal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = (
    Queue("critical", routing_key="critical"),
    Queue("probes", routing_key="probes"),
    Queue("default", routing_key="default"),
)
app.autodiscover_tasks()
