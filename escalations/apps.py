from django.apps import AppConfig


class EscalationsConfig(AppConfig):
    name = "escalations"
    verbose_name = "Support escalations"

    def ready(self) -> None:
        # oncall (layer 1) cannot import us: it announces acknowledgements and resolutions with
        # signals, and the escalation follows its page both ways (ARCHITECTURE.md).
        from oncall.models import Page
        from oncall.signals import page_acknowledged, page_resolved

        page_acknowledged.connect(
            _page_acknowledged, sender=Page, dispatch_uid="escalations.page_acknowledged"
        )
        page_resolved.connect(_page_resolved, sender=Page, dispatch_uid="escalations.page_resolved")

        # The incident room (incidents, same layer, must not import us) shows the linked
        # escalations with their customer counts, and declares from an escalation.
        from escalations import room
        from incidents.room import register_declare_source, register_room_panel

        register_room_panel("escalations", "admin/escalations/room_panel.html", room.panel, order=20)
        register_declare_source("escalation", room.prefill, room.link)


def _page_acknowledged(sender, page, user, at, **kwargs) -> None:
    from escalations import services

    services.acknowledge_from_page(page=page, user=user, at=at)


def _page_resolved(sender, page, user, at, reason="", **kwargs) -> None:
    from escalations import services

    services.resolve_from_page(page=page, user=user, at=at, reason=reason)
