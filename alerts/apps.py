from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alerts"
    verbose_name = "Alerts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The page <-> alert group settlement (ARCHITECTURE.md: the one sanctioned use of
        # signals): oncall tells us a page was acknowledged or resolved.
        from alerts import receivers

        receivers.connect()
