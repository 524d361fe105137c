from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.apps import AppConfig
from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.compatibility)
def check_time_zone(app_configs, **kwargs):
    name = getattr(settings, "POSTMORTEM_TIME_ZONE", "") or settings.TIME_ZONE
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return [
            checks.Error(
                f"POSTMORTEM_TIME_ZONE={name!r} is not an IANA time zone.",
                hint="Use a name like Europe/Berlin or America/New_York.",
                id="postmortems.E001",
            )
        ]
    return []


class PostmortemsConfig(AppConfig):
    name = "postmortems"
    verbose_name = "Postmortems"

    def ready(self) -> None:
        from incidents.room import register_close_remedy, register_room_panel
        from incidents.services import register_close_guard
        from postmortems import room
        from postmortems.services import close_guard

        # SEV levels flagged "postmortem required" cannot close until it is published.
        register_close_guard(close_guard)
        # The incident room offers "Start postmortem" / "Open postmortem" (also in the refused
        # close message) and shows the postmortem's state and due date once it exists.
        register_close_remedy(room.remedy)
        register_room_panel("postmortem", "admin/postmortems/room_panel.html", room.panel, order=50)

        from identity.signals import collect_references
        from postmortems.departures import references

        # A person who leaves: the open action items they own.
        collect_references.connect(references, dispatch_uid="postmortems.departures")
