"""RFC 5545 feeds of final shifts (``icalendar`` library), per schedule or per person.

UIDs name the rotation turn or override a shift comes from (``Shift.key``), so calendar apps
update an event when it moves instead of adding a duplicate.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone
from icalendar import Calendar, Event

from oncall import selectors
from oncall.models import CalendarFeed
from opsportal.links import absolute_url

PAST = timedelta(days=14)
FUTURE = timedelta(days=90)


def _calendar(name: str) -> Calendar:
    cal = Calendar()
    cal.add("prodid", f"-//{settings.SITE_NAME}//On-call//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", name)
    cal.add("x-published-ttl", "PT1H")
    return cal


def _event(schedule, shift, person, stamp: datetime) -> Event:
    ev = Event()
    ev.add("uid", f"oncall-{schedule.pk}-{shift.key}@{settings.SITE_URL.split('://')[-1]}")
    ev.add("dtstamp", stamp)
    ev.add("dtstart", shift.start)
    ev.add("dtend", shift.end)
    label = "override" if shift.is_override else "on call"
    ev.add("summary", f"{person} {label}: {schedule.name}")
    ev.add("description", f"{schedule.name} ({schedule.team}); times in {schedule.time_zone}.")
    ev.add("url", absolute_url(schedule.get_absolute_url()))
    ev.add("transp", "TRANSPARENT")
    return ev


def window(now: datetime | None = None) -> tuple[datetime, datetime]:
    now = (now or timezone.now()).replace(minute=0, second=0, microsecond=0)
    return now - PAST, now + FUTURE


def render(feed: CalendarFeed, now: datetime | None = None) -> bytes:
    start, end = window(now)
    stamp = timezone.now().replace(microsecond=0)
    if feed.schedule_id:
        schedule = feed.schedule
        cal = _calendar(f"On call: {schedule.name}")
        shifts = selectors.final_shifts(schedule, start, end)
        people = selectors.users_by_id(s.user for s in shifts)
        for sh in shifts:
            cal.add_component(_event(schedule, sh, people.get(sh.user, "?"), stamp))
    else:
        cal = _calendar(f"My on-call shifts ({feed.user})")
        for schedule, sh in selectors.shifts_for_user(feed.user, start, end):
            cal.add_component(_event(schedule, sh, feed.user, stamp))
    return cal.to_ical()
