"""Request middleware of the project itself (not of one app)."""

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils import timezone


class ViewerTimeZoneMiddleware:
    """Shows every time in the signed-in person's own zone (``User.time_zone``, set on their
    profile page): templates, the ``when`` filter and the admin all read the active zone.
    Anonymous visitors (the public status page) see ``settings.TIME_ZONE``."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        zone = getattr(getattr(request, "user", None), "time_zone", "") or ""
        try:
            timezone.activate(ZoneInfo(zone)) if zone else timezone.deactivate()
        except (ZoneInfoNotFoundError, ValueError):
            timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
