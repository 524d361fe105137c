from django.apps import AppConfig


class ChatConfig(AppConfig):
    """Layer 6: Slack and Mattermost adapters over incidents, on-call and notifications."""

    name = "chat"
    verbose_name = "Chat (Slack / Mattermost)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from chat import checks, outbox, receivers, room  # noqa: F401  (registers checks, sender, receivers)

        outbox.register()
        receivers.connect()
        room.register()  # the incident room's "Slack channel" panel, when the room registry exists
