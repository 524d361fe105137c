from django.apps import AppConfig


class StatusConfig(AppConfig):
    name = "status"
    verbose_name = "Status page"

    def ready(self) -> None:
        from status import receivers

        receivers.connect()
