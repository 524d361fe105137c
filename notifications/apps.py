from django.apps import AppConfig
from django.core import checks


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from notifications.checks import check_outbound_settings

        checks.register(check_outbound_settings, checks.Tags.compatibility)
