from django.apps import AppConfig


class OpsPortalConfig(AppConfig):
    name = "opsportal"
    verbose_name = "Ops Portal"

    def ready(self) -> None:
        from opsportal import checks  # noqa: F401  (registers system checks)
