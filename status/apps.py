from django.apps import AppConfig


class StatusConfig(AppConfig):
    name = "status"
    verbose_name = "Status page"

    def ready(self) -> None:
        from incidents.room import register_room_panel
        from status import receivers, room

        receivers.connect()
        # The incident room shows whether customers see the incident and lets a person publish it.
        register_room_panel("status", "admin/status/room_panel.html", room.panel, order=10)
