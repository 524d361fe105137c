from django.apps import AppConfig


class EscalationsConfig(AppConfig):
    name = "escalations"
    verbose_name = "Support escalations"

    def ready(self) -> None:
        # oncall (layer 1) cannot import us: it announces acknowledgements with a signal, and
        # acknowledging an escalation's page acknowledges the escalation (ARCHITECTURE.md).
        from oncall.models import Page
        from oncall.signals import page_acknowledged

        page_acknowledged.connect(
            _page_acknowledged, sender=Page, dispatch_uid="escalations.page_acknowledged"
        )


def _page_acknowledged(sender, page, user, at, **kwargs) -> None:
    from escalations import services

    services.acknowledge_from_page(page=page, user=user, at=at)
