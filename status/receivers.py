"""Change signals from lower layers (incidents, catalog) and our own models.

Only wiring lives here: bump the public cache version on commit, and enqueue the
subscriber fan-out of a new external update (the periodic sweep catches it if the broker
is down). Connected in StatusConfig.ready()."""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save

log = logging.getLogger(__name__)


def _invalidate(**kwargs) -> None:
    from status import cache

    transaction.on_commit(cache.invalidate)


def _new_update(sender, instance, created, **kwargs) -> None:
    _invalidate()
    if not created or instance.audience != "external":
        return

    def enqueue(pk=instance.pk) -> None:
        from status.tasks import dispatch_update

        try:
            dispatch_update.delay(pk)
        except Exception:  # broker down: status.dispatch_pending sends it later
            log.warning("could not enqueue status fan-out for update %s", pk, exc_info=True)

    transaction.on_commit(enqueue)


def _new_incident(sender, instance, created, **kwargs) -> None:
    _invalidate()
    if created:
        from status import services

        pk = instance.pk
        transaction.on_commit(lambda: services.ensure_public_incidents(incident_ids=[pk]))


def connect() -> None:
    from catalog.models import Service
    from incidents.models import Incident, StatusUpdate
    from status.models import Component, PublicIncident, ScheduledMaintenance

    post_save.connect(_new_incident, sender=Incident, dispatch_uid="status-new-incident")
    post_delete.connect(_invalidate, sender=Incident, dispatch_uid="status-invalidate-del-Incident")
    for model in (Component, PublicIncident, ScheduledMaintenance, Service):
        post_save.connect(_invalidate, sender=model, dispatch_uid=f"status-invalidate-{model.__name__}")
        post_delete.connect(_invalidate, sender=model, dispatch_uid=f"status-invalidate-del-{model.__name__}")
    post_delete.connect(_invalidate, sender=StatusUpdate, dispatch_uid="status-invalidate-del-update")
    post_save.connect(_new_update, sender=StatusUpdate, dispatch_uid="status-new-update")
    m2m_changed.connect(_invalidate, sender=Incident.services.through, dispatch_uid="status-invalidate-m2m")
    m2m_changed.connect(
        _invalidate,
        sender=ScheduledMaintenance.components.through,
        dispatch_uid="status-invalidate-maint-m2m",
    )
