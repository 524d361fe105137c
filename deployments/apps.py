from django.apps import AppConfig


class DeploymentsConfig(AppConfig):
    name = "deployments"
    verbose_name = "Deployments"

    def ready(self) -> None:
        # Readiness (same layer) tells us about shipped / rolled-back releases through its
        # signal and asks us for the check, the gate's last deploys and real rollbacks
        # through its hooks; deployments imports readiness, never the other way round.
        from deployments import readiness_wiring, room
        from incidents.room import register_room_panel

        readiness_wiring.connect()
        register_room_panel("deployments", "deployments/incident_causes.html", room.likely_causes, order=25)
