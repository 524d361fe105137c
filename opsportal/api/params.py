"""Date-time query parameters: one strict parser for every /api/v1/ endpoint.

Filters (``detected_after``), windows (``start``/``end``) and instants (``at``) are read by
``parse_instant``. It accepts an ISO 8601 / RFC 3339 date and time - ``T`` or a space
between them, seconds and fraction optional - with an offset ``Z``, ``+HH:MM``, ``+HHMM`` or
``+HH`` within +/-15:59 (what PostgreSQL stores; every real zone is within -12:00..+14:00),
for an instant in [2000-01-01, 2101-01-01) UTC. Everything else - an impossible date
(2027-02-30), an hour 24, a year-9999 instant whose window or shift arithmetic would overflow -
is ``InvalidInput`` for that parameter: the API answers 400 ``{"<name>": ["..."]}``, never a
500. Values come back as aware UTC datetimes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone

import django_filters
from django import forms
from django.utils import timezone as django_timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter

from opsportal.errors import InvalidInput

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2101, 1, 1, tzinfo=UTC)  # exclusive: the years 2000 to 2100, as rotation layers
MAX_OFFSET = timedelta(hours=15, minutes=59)
RANGE_TEXT = "between 2000-01-01T00:00:00Z and 2101-01-01T00:00:00Z (exclusive)"
FORMAT_TEXT = (
    "ISO 8601 date and time with a UTC offset, e.g. 2026-03-01T09:00:00Z or 2026-03-01T10:00:00+01:00"
)
_RULES = f"({FORMAT_TEXT}; offset within +/-15:59; {RANGE_TEXT}.)"

_INSTANT = re.compile(
    r"(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})[Tt ]"
    r"(?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:[.,](?P<fraction>\d{1,9}))?)?"
    r"(?P<offset>[Zz]|(?P<sign>[+-])(?P<off_h>\d{2})(?::?(?P<off_m>\d{2}))?)?",
    re.ASCII,
)


def parse_instant(raw: str, *, name: str | None = None, require_offset: bool = True) -> datetime:
    """The aware UTC instant ``raw`` names, or ``InvalidInput(field=name)``.

    ``require_offset=False`` reads a value without offset in the default time zone
    (``TIME_ZONE``), for the filters that always accepted that.
    """
    match = _INSTANT.fullmatch(raw or "")
    if match is None:
        raise InvalidInput(f"Enter an {FORMAT_TEXT}.", field=name)
    parts = match.groupdict()
    if parts["offset"] is None:
        if require_offset:
            raise InvalidInput("Give a time zone offset (Z or +01:00).", field=name)
        zone = django_timezone.get_default_timezone()
    elif parts["offset"] in ("Z", "z"):
        zone = UTC
    else:
        hours, minutes = int(parts["off_h"]), int(parts["off_m"] or 0)
        offset = timedelta(hours=hours, minutes=minutes)
        if minutes > 59 or offset > MAX_OFFSET:
            raise InvalidInput("The UTC offset must be between -15:59 and +15:59.", field=name)
        zone = timezone(-offset if parts["sign"] == "-" else offset)
    try:
        local = datetime(
            int(parts["year"]),
            int(parts["month"]),
            int(parts["day"]),
            int(parts["hour"]),
            int(parts["minute"]),
            int(parts["second"] or 0),
            int((parts["fraction"] or "0")[:6].ljust(6, "0")),
            tzinfo=zone,
        )
    except ValueError:
        raise InvalidInput(f"No such date and time: {raw}.", field=name) from None
    try:
        instant = local.astimezone(UTC)
    except OverflowError:
        instant = None
    if instant is None or not EARLIEST <= instant < LATEST:
        raise InvalidInput(f"Must be {RANGE_TEXT}.", field=name)
    return instant


def instant_param(params: Mapping[str, str], name: str, *, default: datetime) -> datetime:
    """Query parameter ``name`` (offset required), or ``default`` when absent or empty."""
    raw = params.get(name)
    return default if raw in (None, "") else parse_instant(raw, name=name)


def window_params(
    params: Mapping[str, str], *, now: datetime, default_days: int, max_length: timedelta
) -> tuple[datetime, datetime]:
    """``start``/``end`` of a window: start defaults to ``now``, end to ``default_days`` later
    (never past the supported range); ``end`` must follow ``start`` within ``max_length``."""
    start = instant_param(params, "start", default=now)
    end = instant_param(params, "end", default=min(start + timedelta(days=default_days), LATEST))
    if end <= start:
        raise InvalidInput("end must be after start.", field="end")
    if end - start > max_length:
        raise InvalidInput(f"The window is at most {max_length.days} days.", field="end")
    return start, end


def instant_parameter(name: str, description: str) -> OpenApiParameter:
    """The OpenAPI description of a date-time query parameter read by ``instant_param``."""
    return OpenApiParameter(name, OpenApiTypes.DATETIME, description=f"{description} {_RULES}")


class InstantField(forms.Field):
    """Form field over ``parse_instant`` (django-filter filters)."""

    def __init__(self, *, require_offset: bool = True, **kwargs):
        self.require_offset = require_offset
        super().__init__(**kwargs)

    def to_python(self, value):
        if value in self.empty_values:
            return None
        try:
            return parse_instant(str(value), require_offset=self.require_offset)
        except InvalidInput as error:
            raise forms.ValidationError(error.message, code="invalid") from None


class InstantFilter(django_filters.Filter):
    """A date-time filter read by ``parse_instant``. ``require_offset=False`` keeps filters that
    always accepted a value without offset (read in ``TIME_ZONE``)."""

    field_class = InstantField

    def __init__(self, *args, require_offset: bool = True, **kwargs):
        super().__init__(*args, require_offset=require_offset, **kwargs)
