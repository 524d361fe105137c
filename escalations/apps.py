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


def _page_acknowledged(sender, page, user, at, **kwargs) -> None:
    from escalations import services

    services.acknowledge_from_page(page=page, user=user, at=at)


def _page_resolved(sender, page, user, at, reason="", **kwargs) -> None:
    from escalations import services

    services.resolve_from_page(page=page, user=user, at=at, reason=reason)
