"""iCal feeds match the API's shifts; revoked tokens 404; who-is-on-call in bounded queries;
overrides, swaps and gap detection through the models; shift-change notices."""

from datetime import UTC, date, datetime, time, timedelta

import pytest
import time_machine
from icalendar import Calendar

from accounts import roles
from notifications.models import Notification
from oncall import selectors, services
from oncall.models import LayerRestriction
from opsportal.errors import InvalidInput, NotAllowed
from tests.factories import ServiceFactory, TeamFactory, UserFactory
from tests.oncall.factories import LayerFactory, PolicyFactory, ScheduleFactory, level

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)


@pytest.fixture
def sched(db):
    team = TeamFactory()
    ann = UserFactory(username="ann", is_staff=True, roles=[roles.RESPONDERS])
    ben = UserFactory(username="ben", is_staff=True, roles=[roles.RESPONDERS])
    team.members.add(ann, ben)
    schedule = ScheduleFactory(team=team, name="Edge primary", time_zone="Europe/Berlin")
    LayerFactory(schedule=schedule, start_date=date(2026, 3, 2), people=[ann, ben])
    return schedule, ann, ben


def test_schedule_feed_parses_and_matches_the_api(sched, api_as, manager, client):
    schedule, _ann, ben = sched
    with time_machine.travel(NOW, tick=False):
        services.create_override(
            schedule=schedule,
            user=ben,
            start=NOW + timedelta(hours=2),
            end=NOW + timedelta(hours=5),
            actor=manager,
        )
        feed = services.create_feed(schedule=schedule, actor=manager)
        response = client.get(f"/oncall/ical/{feed.token}.ics")
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/calendar")
        cal = Calendar.from_ical(response.content)
        events = sorted(
            (ev.decoded("dtstart").astimezone(UTC), ev.decoded("dtend").astimezone(UTC), str(ev["uid"]))
            for ev in cal.walk("VEVENT")
        )
        start = (NOW - timedelta(days=14)).replace(minute=0)
        end = (NOW + timedelta(days=90)).replace(minute=0)
        api = api_as(manager).get(
            f"/api/v1/schedules/{schedule.pk}/shifts/", {"start": start.isoformat(), "end": end.isoformat()}
        )
        assert api.status_code == 200
        from_api = sorted(
            (datetime.fromisoformat(r["start"]), datetime.fromisoformat(r["end"]), r["key"])
            for r in api.json()
        )
        assert [(s, e) for s, e, _ in events] == [(s, e) for s, e, _ in from_api]
        assert len(events) > 10
        uids = [u for *_, u in events]
        assert len(set(uids)) == len(uids)
        # Stable UIDs: the same feed rendered again names the same events.
        again = Calendar.from_ical(client.get(f"/oncall/ical/{feed.token}.ics").content)
        assert sorted(str(ev["uid"]) for ev in again.walk("VEVENT")) == sorted(uids)
        assert any("override" in str(ev["summary"]) for ev in cal.walk("VEVENT"))

        services.revoke_feed(feed=feed, actor=manager)
        assert client.get(f"/oncall/ical/{feed.token}.ics").status_code == 404
        assert client.get("/oncall/ical/not-a-token.ics").status_code == 404


def test_personal_feed_lists_only_that_persons_shifts(sched, client):
    _schedule, ann, ben = sched
    with time_machine.travel(NOW, tick=False):
        feed = services.create_feed(user=ann, actor=ann)
        cal = Calendar.from_ical(client.get(f"/oncall/ical/{feed.token}.ics").content)
    summaries = {str(ev["summary"]) for ev in cal.walk("VEVENT")}
    assert summaries
    assert all(s.startswith(str(ann)) for s in summaries)
    with pytest.raises(NotAllowed):
        services.create_feed(user=ann, actor=ben)


def test_on_call_for_many_schedules_in_bounded_queries(db, django_assert_max_num_queries):
    team = TeamFactory()
    people = [UserFactory() for _ in range(6)]
    schedules = []
    for i in range(40):
        s = ScheduleFactory(team=team, time_zone=["UTC", "Asia/Kolkata", "Australia/Sydney"][i % 3])
        LayerFactory(schedule=s, people=people[i % 3 : i % 3 + 3])
        LayerFactory(schedule=s, people=people[:2], rotation_unit="days")
        schedules.append(s.pk)
    # schedules, layers, members, restrictions, overrides, users (+ with_next: same)
    with django_assert_max_num_queries(6):
        answers = selectors.on_call(schedules[:1], NOW, with_next=True)
    with django_assert_max_num_queries(6):
        answers = selectors.on_call(schedules, NOW, with_next=True)
    assert len(answers) == 40
    assert all(a.user is not None and a.next_user is not None for a in answers.values())


def test_service_levels_and_team_default(sched, db):
    schedule, _ann, _ben = sched
    backup = UserFactory(username="backup")
    policy = PolicyFactory(team=schedule.team, is_team_default=True)
    level(policy, 1, schedules=[schedule], include_next=True)
    level(policy, 2, users=[backup])
    service = ServiceFactory(owner_team=schedule.team)
    found, levels = selectors.on_call_for_service(service, NOW)
    assert found == policy
    assert [u.username for u in levels[0].users] == ["ann", "ben"]  # current + next
    assert [u.username for u in levels[1].users] == ["backup"]


def test_overrides_swaps_and_permissions(sched, manager, responder):
    schedule, ann, ben = sched
    carl = UserFactory(username="carl")
    schedule.team.members.add(responder)
    with time_machine.travel(NOW, tick=False):
        # A responder puts themselves on call ("I'll take tonight") but not someone else.
        services.create_override(
            schedule=schedule, user=responder, start=NOW, end=NOW + timedelta(hours=8), actor=responder
        )
        with pytest.raises(NotAllowed):
            services.create_override(
                schedule=schedule, user=carl, start=NOW, end=NOW + timedelta(hours=1), actor=responder
            )
        with pytest.raises(InvalidInput):
            services.create_override(schedule=schedule, user=carl, start=NOW, end=NOW, actor=manager)
        assert selectors.on_call([schedule.pk], NOW + timedelta(hours=1))[schedule.pk].user == responder
        # Swap: ben covers part of ann's week; both names recorded; ann must really be on call.
        swap = services.swap_shift(
            schedule=schedule, covered=ann, covering=ben, start=NOW + timedelta(days=1), end=NOW + timedelta(days=2),
            actor=ben, reason="dentist",
        )  # fmt: skip
        assert (swap.kind, swap.user, swap.covers) == ("swap", ben, ann)
        with pytest.raises(InvalidInput, match="not on call"):
            services.swap_shift(
                schedule=schedule, covered=carl, covering=ann, start=NOW + timedelta(days=1), end=NOW + timedelta(days=2),
                actor=manager,
            )  # fmt: skip
        with pytest.raises(NotAllowed):
            services.swap_shift(
                schedule=schedule, covered=ann, covering=ben, start=NOW + timedelta(days=3), end=NOW + timedelta(days=4),
                actor=carl,
            )  # fmt: skip
        assert selectors.on_call([schedule.pk], NOW + timedelta(days=1, hours=1))[schedule.pk].user == ben


def test_people_hear_when_their_future_shifts_change(sched, manager):
    schedule, _ann, ben = sched
    with time_machine.travel(NOW, tick=False):
        services.create_override(
            schedule=schedule, user=ben, start=NOW, end=NOW + timedelta(hours=3), actor=manager
        )
    told = set(
        Notification.objects.filter(template="oncall/shifts_changed").values_list(
            "recipient__username", flat=True
        )
    )
    assert told == {"ann", "ben"}  # ann lost three hours, ben gained them
    body = Notification.objects.filter(template="oncall/shifts_changed", recipient=ben).first().body
    assert "Your shifts now" in body


def test_gaps_with_business_hours_layer(db):
    schedule = ScheduleFactory(time_zone="America/New_York")
    layer = LayerFactory(schedule=schedule, rotation_unit="days", people=[UserFactory()])
    LayerRestriction.objects.create(layer=layer, weekdays="01234", start_time=time(9), end_time=time(17))
    holes = selectors.gaps(
        schedule, datetime(2026, 3, 6, 0, tzinfo=UTC), datetime(2026, 3, 10, 0, tzinfo=UTC)
    )
    # Fri 17:00 EST -> Mon 09:00 EDT (the clocks moved on Sunday)
    assert (datetime(2026, 3, 6, 22, tzinfo=UTC), datetime(2026, 3, 9, 13, tzinfo=UTC)) in holes
    everything = selectors.coverage_gaps(days=7, at=datetime(2026, 3, 6, tzinfo=UTC))
    assert schedule.pk in everything


def test_handoff_notices_incoming_and_outgoing_once(sched):
    schedule, _ann, _ben = sched
    handoff = datetime(2026, 3, 9, 8, 0, tzinfo=UTC)  # Monday 09:00 Berlin: ann -> ben
    with time_machine.travel(handoff - timedelta(minutes=50), tick=False):
        assert services.send_handoff_notices() == 2
        assert services.send_handoff_notices() == 0  # beat runs again: nothing new
    rows = dict(
        Notification.objects.filter(template="oncall/handoff").values_list("recipient__username", "subject")
    )
    assert "You are on call" in rows["ben"]
    assert "Hand over" in rows["ann"]
    with time_machine.travel(handoff - timedelta(hours=3), tick=False):
        assert services.send_handoff_notices(schedules=[schedule.pk]) == 0  # too early
