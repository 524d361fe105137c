from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alerts"
    verbose_name = "Alerts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The page <-> alert group settlement (ARCHITECTURE.md: the one sanctioned use of
        # signals): oncall tells us a page was acknowledged or resolved.
        from alerts import receivers, room
        from incidents.room import register_declare_source, register_room_panel

        receivers.connect()
        register_room_panel("alerts", "alerts/_incident_panel.html", room.panel, order=35)
        register_declare_source("alertgroup", room.prefill, room.link)
