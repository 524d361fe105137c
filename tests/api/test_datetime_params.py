"""Defect 16: every date-time query parameter of the API goes through one strict parser.

Offsets beyond what PostgreSQL stores (+/-15:59), impossible dates, and instants near year 1
or 9999 used to reach the database or date arithmetic and answer 500; they are 400 with the
parameter name as the field, and the edges that are valid keep working.
"""

from datetime import UTC, datetime
from urllib.parse import quote

import pytest

from opsportal.api.params import EARLIEST, LATEST, parse_instant
from opsportal.errors import InvalidInput
from tests.factories import ServiceFactory, TeamFactory, UserFactory
from tests.incidents.factories import declare
from tests.oncall.factories import LayerFactory, ScheduleFactory

pytestmark = pytest.mark.django_db

BAD_INSTANTS = [
    "2026-01-01T00:00:00+16:00",  # PostgreSQL refuses offsets past 15:59
    "2026-01-01T00:00:00-16:00",
    "2026-01-01T00:00:00+24:00",  # Python refuses it too
    "2027-02-30T00:00:00Z",  # no such day
    "2027-13-01T00:00:00Z",  # no such month
    "2027-01-01T24:30:00Z",
    "0001-01-01T00:00:00+01:00",  # before year 1 in UTC
    "9999-12-31T23:59:59-01:00",  # after year 9999 in UTC
    "9999-12-31T00:00:00Z",  # outside the supported range
    "1999-12-31T23:59:59Z",
    "2101-01-01T00:00:00Z",
    "yesterday",
    "2026-01-01T00:00:00 Z",
    "2026-01-01",  # a date is not an instant
    "2026-01-01T00:00:00+0100junk",
    "\x00",
]


@pytest.fixture
def schedule(db):
    schedule = ScheduleFactory(team=TeamFactory())
    LayerFactory(schedule=schedule, people=[UserFactory(), UserFactory()])
    return schedule


def _endpoints(schedule):
    team = schedule.team_id
    return [
        ("/api/v1/incidents/?detected_after={}", "detected_after"),
        ("/api/v1/incidents/?detected_before={}", "detected_before"),
        (f"/api/v1/oncall/?team={team}&at={{}}", "at"),
        (f"/api/v1/schedules/{schedule.pk}/shifts/?start={{}}", "start"),
        (f"/api/v1/schedules/{schedule.pk}/shifts/?start=2026-03-01T00:00:00Z&end={{}}", "end"),
        (f"/api/v1/schedules/{schedule.pk}/gaps/?start={{}}", "start"),
        (f"/api/v1/schedules/{schedule.pk}/fairness/?start={{}}", "start"),
    ]


@pytest.mark.parametrize("raw", BAD_INSTANTS)
def test_bad_instants_are_400_naming_the_parameter(api_as, superuser, schedule, raw):
    api = api_as(superuser)
    for template, name in _endpoints(schedule):
        response = api.get(template.format(quote(raw, safe=":")))
        assert response.status_code == 400, (template, raw, response.status_code)
        body = response.json()
        assert list(body) == [name], (template, raw, body)
        assert isinstance(body[name], list), body
        assert body[name][0], body


def test_issue_examples_verbatim(api_as, superuser, schedule):
    api = api_as(superuser)
    for url, name in [
        ("/api/v1/incidents/?detected_after=2026-01-01T00:00:00%2B16:00", "detected_after"),
        (f"/api/v1/schedules/{schedule.pk}/shifts/?start=2027-02-30T00:00:00Z", "start"),
        (
            f"/api/v1/schedules/{schedule.pk}/shifts/?start=2026-12-01T00:00:00Z&end=2027-13-01T00:00:00Z",
            "end",
        ),
        (f"/api/v1/oncall/?schedule={schedule.pk}&at=9999-12-31T00:00:00Z", "at"),
        (f"/api/v1/schedules/{schedule.pk}/shifts/?start=9999-12-30T00:00:00Z", "start"),
    ]:
        response = api.get(url)
        assert response.status_code == 400, (url, response.content)
        assert name in response.json()


@pytest.mark.parametrize(
    "raw",
    [
        "2026-03-01T00:00:00+15:59",
        "2026-03-01T00:00:00-15:59",
        "2026-03-01T00:00:00+14:00",
        "2026-03-01T00:00:00Z",
        "2026-03-01T00:00:00.123456+05:30",
        "2026-03-01T00:00+01:00",
        "2026-03-01 00:00:00Z",
        "2026-03-01T00:00:00+0100",
        "2000-01-01T00:00:00Z",
        "2099-12-30T00:00:00Z",
    ],
)
def test_valid_edges_are_accepted(api_as, superuser, schedule, raw):
    api = api_as(superuser)
    for template, _name in _endpoints(schedule):
        if "end=" in template and "start=" in template:
            continue  # its start is fixed; covered by the window tests below
        response = api.get(template.format(quote(raw, safe=":")))
        assert response.status_code == 200, (template, raw, response.content)


def test_parser_edges():
    assert parse_instant("2026-03-01T00:00:00+15:59", name="at") == datetime(2026, 2, 28, 8, 1, tzinfo=UTC)
    assert parse_instant("2026-03-01T10:00:00Z", name="at").tzinfo is UTC
    assert parse_instant(EARLIEST.isoformat(), name="at") == EARLIEST
    with pytest.raises(InvalidInput) as error:
        parse_instant(LATEST.isoformat(), name="at")
    assert error.value.field == "at"
    with pytest.raises(InvalidInput, match="offset"):
        parse_instant("2026-03-01T00:00:00+16:00", name="at")
    with pytest.raises(InvalidInput, match="time zone"):
        parse_instant("2026-03-01T00:00:00", name="at")
    # naive allowed where the endpoint allows it: read in the default zone (UTC)
    assert parse_instant("2026-03-01T00:00:00", name="at", require_offset=False) == datetime(
        2026, 3, 1, tzinfo=UTC
    )


def test_incident_filters_still_accept_naive_and_filter(api_as, superuser, manager):
    incident = declare(actor=manager, service=ServiceFactory())
    api = api_as(superuser)
    day = incident.detected_at.strftime("%Y-%m-%d")
    ids = [r["id"] for r in api.get(f"/api/v1/incidents/?detected_after={day}T00:00:00").json()["results"]]
    assert incident.pk in ids
    after = incident.detected_at.replace(year=incident.detected_at.year + 1).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert api.get(f"/api/v1/incidents/?detected_after={after}").json()["count"] == 0


def test_window_rules_name_the_field(api_as, superuser, schedule):
    api = api_as(superuser)
    base = f"/api/v1/schedules/{schedule.pk}/shifts/"
    response = api.get(base + "?start=2026-03-02T00:00:00Z&end=2026-03-01T00:00:00Z")
    assert response.status_code == 400
    assert "end" in response.json()
    response = api.get(base + "?start=2026-01-01T00:00:00Z&end=2027-06-01T00:00:00Z")
    assert response.status_code == 400
    assert "end" in response.json()
    # start near the end of the range with the default 7-day window: the end is clamped to
    # the range, never an overflow
    response = api.get(base + "?start=2099-12-30T00:00:00Z")
    assert response.status_code == 200, response.content
