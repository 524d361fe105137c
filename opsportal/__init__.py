"""Ops Portal project package: settings, URLs, the Celery app and shared helpers.

It imports no domain app (see ARCHITECTURE.md); domain apps plug in through
autodiscovery (``<app>/api.py``, ``<app>/tasks.py``).
"""

from opsportal.celery import app as celery_app

__all__ = ["celery_app"]
