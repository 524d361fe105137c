from django.apps import AppConfig


class OpsPortalConfig(AppConfig):
    name = "opsportal"
    verbose_name = "Ops Portal"

    def ready(self) -> None:
        from opsportal import admin_display, checks  # noqa: F401  (checks registers system checks)

        admin_display.install()
