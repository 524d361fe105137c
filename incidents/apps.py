from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _ensure_severities(sender, **kwargs):
    from incidents.defaults import ensure_severities

    ensure_severities()


class IncidentsConfig(AppConfig):
    name = "incidents"
    verbose_name = "Incidents"

    def ready(self) -> None:
        from incidents import admin_room, paging
        from oncall.signals import page_acknowledged, page_resolved

        # oncall (layer 1) tells us a page was acknowledged or resolved: settle its incident
        # the same way (the two-way rules are in incidents/paging.py).
        page_acknowledged.connect(paging.on_page_acknowledged, dispatch_uid="incidents.page_acknowledged")
        page_resolved.connect(paging.on_page_resolved, dispatch_uid="incidents.page_resolved")
        # The data migration seeds the severity framework; a test flush (or a fresh database
        # restored without data) gets it back after every migrate, like the role groups.
        post_migrate.connect(_ensure_severities, sender=self, dispatch_uid="incidents.ensure_severities")
        # The room's own side panels (pages, runbooks) and "declare from an on-call page";
        # higher layers register theirs the same way (incidents/room.py).
        admin_room.register_builtin_panels()
        admin_room.register_builtin_sources()
