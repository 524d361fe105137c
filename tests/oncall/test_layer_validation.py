"""Defect 17 (and the layer part of 16): rotation layers and overrides that were accepted but
wrong are refused with field errors, through the service, the API and the admin alike.

Rules (oncall.services.layer_errors / participants_error):
- a layer has at least one participant;
- nobody is on call twice in a row. The rotation repeats, so the participant list is a cycle:
  the last person is followed by the first. [a, b, a] gives a two turns in a row at every
  wrap and is refused; [a, b, a, c] is fine (a simply takes two turns per cycle); [a] alone
  is fine (one person always on call is not "twice in a row", it is the whole rotation);
- the start date is in the years 2000 to 2100 and so is the end (so shift expansion can
  never overflow a date), and the end is after the layer's first handoff;
- times without a zone are refused (never silently read as UTC), as the read endpoints do.
"""

from datetime import UTC, date, datetime, time, timedelta

import pytest
import time_machine
from django.db import IntegrityError, transaction

from oncall import services
from oncall.models import LayerMember, Override, RotationLayer, Schedule
from opsportal.errors import InvalidInput
from tests.factories import TeamFactory, UserFactory
from tests.oncall.factories import LayerFactory, ScheduleFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)


@pytest.fixture
def people(db):
    return [
        UserFactory(username=name, first_name=name.title(), last_name="") for name in ("ann", "ben", "cat")
    ]


@pytest.fixture
def team(manager):
    return TeamFactory(manager=manager)


def layer(participants, **overrides):
    data = {
        "name": "Primary", "rotation_length": 1, "rotation_unit": "weeks", "start_date": date(2026, 3, 2),
        "handoff_time": time(9, 0), "participants": participants,
    }  # fmt: skip
    data.update(overrides)
    return data


def save(team, manager, *layers, time_zone="Australia/Sydney"):
    return services.save_schedule_definition(
        team=team, name="Primary", time_zone=time_zone, layers=list(layers), actor=manager
    )


# --- the service -----------------------------------------------------------------------------
def _refused(team, manager, spec, field, words):
    with pytest.raises(InvalidInput) as exc:
        save(team, manager, spec)
    assert exc.value.field == "layers"
    assert exc.value.message.startswith(f"Layer 1 (Primary), {field}: "), exc.value.message
    assert words in exc.value.message, exc.value.message
    assert not Schedule.objects.exists()  # nothing half-saved
    assert not RotationLayer.objects.exists()


def test_service_refuses_a_layer_without_participants(team, manager):
    _refused(team, manager, layer([]), "participants", "at least one participant")


@pytest.mark.parametrize(
    ("order", "who", "where"),
    [
        ("aab", "Ann", "positions 1 and 2"),
        ("abb", "Ben", "positions 2 and 3"),
        ("aa", "Ann", "positions 1 and 2"),
        ("aba", "Ann", "positions 3 and 1"),  # the wrap: a, b, a, a, b, a, ...
        ("abca", "Ann", "positions 4 and 1"),
    ],
)
def test_service_refuses_the_same_person_twice_in_a_row(team, manager, people, order, who, where):
    by = dict(zip("abc", people, strict=True))
    _refused(
        team, manager, layer([by[c] for c in order]), "participants", f"{who} would be on call twice in a row"
    )
    with pytest.raises(InvalidInput) as exc:
        save(team, manager, layer([by[c] for c in order]))
    assert "twice in a row" in exc.value.message
    assert where in exc.value.message


@pytest.mark.parametrize("order", ["a", "ab", "abac", "abcb"])
def test_service_accepts_rotations_without_back_to_back_turns(team, manager, people, order):
    by = dict(zip("abc", people, strict=True))
    schedule = save(team, manager, layer([by[c] for c in order]))
    assert [m.user for m in schedule.layers.get().members.order_by("position")] == [by[c] for c in order]


@pytest.mark.parametrize("start", [date(9999, 12, 31), date(2101, 1, 1), date(1999, 12, 31), date(1, 1, 1)])
def test_service_bounds_the_start_date(team, manager, people, start):
    _refused(team, manager, layer(people[:2], start_date=start), "start_date", "years 2000 to 2100")


def test_service_accepts_the_bounds_themselves(team, manager, people):
    save(team, manager, layer(people[:2], start_date=date(2000, 1, 1)))
    Schedule.objects.all().delete()
    save(team, manager, layer(people[:2], start_date=date(2100, 12, 31)))


@pytest.mark.parametrize(
    "end_at",
    [
        datetime(2026, 3, 1, 12, 0, tzinfo=UTC),  # the day before the start date
        datetime(2026, 3, 1, 22, 0, tzinfo=UTC),  # exactly the first handoff (09:00 AEDT)
        datetime(2026, 3, 1, 21, 59, tzinfo=UTC),
    ],
)
def test_service_refuses_a_layer_that_ends_before_it_starts(team, manager, people, end_at):
    _refused(team, manager, layer(people[:2], end_at=end_at), "end_at", "after it starts")


def test_the_end_message_names_the_first_handoff_in_the_schedule_zone(team, manager, people):
    with pytest.raises(InvalidInput) as exc:
        save(team, manager, layer(people[:2], end_at=datetime(2026, 3, 1, 12, 0, tzinfo=UTC)))
    assert "its first handoff is Mon 02 Mar 2026 09:00 AEDT" in exc.value.message


def test_service_refuses_an_end_beyond_2100_and_a_naive_end(team, manager, people):
    _refused(
        team, manager, layer(people[:2], end_at=datetime(9999, 12, 31, tzinfo=UTC)), "end_at", "2000 to 2100"
    )
    _refused(team, manager, layer(people[:2], end_at=datetime(2026, 6, 1, 9, 0)), "end_at", "time zone")


def test_service_accepts_an_end_after_the_first_handoff(team, manager, people):
    schedule = save(team, manager, layer(people[:2], end_at=datetime(2026, 3, 2, 0, 30, tzinfo=UTC)))
    assert schedule.layers.get().end_at == datetime(2026, 3, 2, 0, 30, tzinfo=UTC)


def test_the_second_layer_is_named_in_the_message(team, manager, people):
    with pytest.raises(InvalidInput) as exc:
        save(team, manager, layer(people[:2]), layer([], name="Nights", position=2))
    assert exc.value.message.startswith("Layer 2 (Nights), participants: ")


def test_service_refuses_naive_override_times_with_a_field(team, manager, people):
    schedule = save(team, manager, layer(people[:2]))
    for field in ("start", "end"):
        times = {"start": NOW + timedelta(days=1), "end": NOW + timedelta(days=2)}
        times[field] = times[field].replace(tzinfo=None)
        with pytest.raises(InvalidInput) as exc:
            services.create_override(schedule=schedule, user=people[0], actor=manager, **times)
        assert exc.value.field == field
        assert "time zone" in exc.value.message
    assert not Override.objects.exists()


# --- the database ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "fields",
    [
        {"start_date": date(9999, 12, 31)},
        {"start_date": date(1999, 12, 31)},
        {"end_at": datetime(2026, 1, 4, 23, 0, tzinfo=UTC)},  # before the start date
        {"end_at": datetime(2101, 1, 1, tzinfo=UTC)},
    ],
)
def test_database_refuses_out_of_range_and_backwards_layers(fields):
    schedule = ScheduleFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        RotationLayer.objects.create(
            schedule=schedule,
            start_date=fields.get("start_date", date(2026, 1, 5)),
            end_at=fields.get("end_at"),
        )


# --- the API --------------------------------------------------------------------------------
def _post(api_as, manager, team, layers, time_zone="Europe/Berlin"):
    body = {"team": team.pk, "name": "Follow the sun", "time_zone": time_zone, "layers": layers}
    return api_as(manager).post("/api/v1/schedules/", body, format="json")


def _api_layer(participants, **overrides):
    data = {"name": "Days", "rotation_length": 1, "rotation_unit": "days", "start_date": "2026-03-02",
            "handoff_time": "09:00", "participants": [p.pk for p in participants]}  # fmt: skip
    data.update(overrides)
    return data


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"participants": ""}, "participants", "at least one participant"),
        ({"participants": "aab"}, "participants", "twice in a row"),
        ({"participants": "aba"}, "participants", "twice in a row"),
        ({"start_date": "9999-12-31"}, "start_date", "years 2000 to 2100"),
        ({"start_date": "1970-01-01"}, "start_date", "years 2000 to 2100"),
        ({"end_at": "2026-03-01T00:00:00Z"}, "end_at", "after it starts"),
        ({"end_at": "2026-03-10T09:00:00"}, "end_at", "time zone"),
        ({"end_at": "9999-12-31T00:00:00Z"}, "end_at", "2000 to 2100"),
    ],
)
def test_api_refuses_wrong_layers_with_nested_field_errors(
    api_as, manager, team, people, overrides, field, words
):
    by = dict(zip("abc", people, strict=True))
    second = _api_layer(people[:2], position=2, **{k: v for k, v in overrides.items() if k != "participants"})
    if "participants" in overrides:
        second["participants"] = [by[c].pk for c in overrides["participants"]]
    api = api_as(manager)
    api.raise_request_exception = True
    body = {"team": team.pk, "name": "Follow the sun", "time_zone": "Europe/Berlin",
            "layers": [_api_layer(people[:2]), second]}  # fmt: skip
    response = api.post("/api/v1/schedules/", body, format="json")
    assert response.status_code == 400, response.content
    errors = response.json()["layers"]  # DRF's nested shape: {index: {field: [message]}}
    assert set(errors) == {"1"}, errors
    assert set(errors["1"]) == {field}, errors
    assert words in errors["1"][field][0], errors
    assert not Schedule.objects.exists()


def test_api_patch_refuses_wrong_layers_and_keeps_the_old_ones(api_as, manager, team, people):
    schedule = save(team, manager, layer(people[:2]), time_zone="Europe/Berlin")
    response = api_as(manager).patch(
        f"/api/v1/schedules/{schedule.pk}/", {"layers": [_api_layer([people[0], people[0]])]}, format="json"
    )
    assert response.status_code == 400
    assert "twice in a row" in response.json()["layers"]["0"]["participants"][0]
    assert [m.user for m in schedule.layers.get().members.order_by("position")] == people[:2]


def test_api_shifts_of_a_layer_at_the_upper_bound_answer(api_as, manager, team, people):
    schedule = save(team, manager, layer(people[:2], start_date=date(2100, 12, 31)))
    api = api_as(manager)
    api.raise_request_exception = True
    for start in ("2026-03-02T00:00:00Z", "2100-12-01T00:00:00Z"):
        response = api.get(f"/api/v1/schedules/{schedule.pk}/shifts/", {"start": start})
        assert response.status_code == 200, response.content


@pytest.mark.parametrize("field", ["start", "end"])
def test_api_refuses_naive_override_times(api_as, manager, team, people, field):
    schedule = save(team, manager, layer(people[:2]))
    times = {"start": "2026-03-05T10:00:00+01:00", "end": "2026-03-05T12:00:00+01:00"}
    times[field] = times[field][:-6]  # no zone
    with time_machine.travel(NOW, tick=False):
        response = api_as(manager).post(
            "/api/v1/schedule-overrides/",
            {"schedule": schedule.pk, "user": people[0].pk, **times},
            format="json",
        )
    assert response.status_code == 400, response.content
    assert response.json() == {field: [f"Give the {field} with a time zone (Z or +01:00)."]}
    assert not Override.objects.exists()


def test_api_still_accepts_zoned_override_times(api_as, manager, team, people):
    schedule = save(team, manager, layer(people[:2]))
    with time_machine.travel(NOW, tick=False):
        response = api_as(manager).post(
            "/api/v1/schedule-overrides/",
            {"schedule": schedule.pk, "user": people[0].pk, "start": "2026-03-05T10:00:00+01:00",
             "end": "2026-03-05T12:00:00Z"},
            format="json",
        )  # fmt: skip
    assert response.status_code == 201, response.content
    assert Override.objects.get().start == datetime(2026, 3, 5, 9, 0, tzinfo=UTC)


# --- the admin ------------------------------------------------------------------------------
def _layer_admin_data(schedule, members, **fields):
    data = {
        "schedule": schedule.pk, "name": "Primary", "position": 3, "rotation_length": 1, "rotation_unit": "weeks",
        "start_date": "2026-03-02", "handoff_time": "09:00", "end_at_0": "", "end_at_1": "",
        "members-TOTAL_FORMS": len(members), "members-INITIAL_FORMS": 0, "members-MIN_NUM_FORMS": 0,
        "members-MAX_NUM_FORMS": 1000,
        "restrictions-TOTAL_FORMS": 0, "restrictions-INITIAL_FORMS": 0, "restrictions-MIN_NUM_FORMS": 0,
        "restrictions-MAX_NUM_FORMS": 1000,
    }  # fmt: skip
    for i, user in enumerate(members):
        data[f"members-{i}-position"] = i
        data[f"members-{i}-user"] = user.pk
    data.update(fields)
    return data


@pytest.fixture
def berlin(team):
    return ScheduleFactory(team=team, time_zone="Europe/Berlin")


@pytest.mark.parametrize(
    ("order", "words"),
    [("", "at least one participant"), ("aab", "twice in a row"), ("aba", "twice in a row")],
)
def test_admin_layer_form_refuses_wrong_participants(manager_client, berlin, people, order, words):
    by = dict(zip("abc", people, strict=True))
    response = manager_client.post(
        "/admin/oncall/rotationlayer/add/", _layer_admin_data(berlin, [by[c] for c in order])
    )
    assert response.status_code == 200
    formset = next(f for f in response.context["inline_admin_formsets"] if f.formset.prefix == "members")
    assert any(words in e for e in formset.formset.non_form_errors()), formset.formset.non_form_errors()
    assert not RotationLayer.objects.exists()


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"start_date": "9999-12-31"}, "start_date", "years 2000 to 2100"),
        ({"end_at_0": "2026-03-01", "end_at_1": "08:00"}, "end_at", "after it starts"),
        ({"end_at_0": "9999-12-31", "end_at_1": "08:00"}, "end_at", "2000 to 2100"),
    ],
)
def test_admin_layer_form_refuses_wrong_dates(manager_client, berlin, people, fields, field, words):
    response = manager_client.post(
        "/admin/oncall/rotationlayer/add/", _layer_admin_data(berlin, people[:2], **fields)
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert words in errors[field][0], errors
    assert not RotationLayer.objects.exists()


def test_admin_layer_form_saves_a_good_layer(manager_client, berlin, people):
    response = manager_client.post("/admin/oncall/rotationlayer/add/", _layer_admin_data(berlin, people))
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert [m.user for m in LayerMember.objects.order_by("position")] == people


def test_admin_schedule_page_refuses_an_out_of_range_layer_date(manager_client, berlin, people):
    existing = LayerFactory(schedule=berlin, people=people[:2])
    data = {
        "team": berlin.team_id, "name": berlin.name, "description": "", "time_zone": "Europe/Berlin",
        "layers-TOTAL_FORMS": 1, "layers-INITIAL_FORMS": 1, "layers-MIN_NUM_FORMS": 0, "layers-MAX_NUM_FORMS": 1000,
        "layers-0-id": existing.pk, "layers-0-schedule": berlin.pk, "layers-0-position": existing.position,
        "layers-0-name": "Primary", "layers-0-rotation_length": 1, "layers-0-rotation_unit": "weeks",
        "layers-0-start_date": "9999-12-31", "layers-0-handoff_time": "09:00",
        "layers-0-end_at_0": "", "layers-0-end_at_1": "",
    }  # fmt: skip
    response = manager_client.post(f"/admin/oncall/schedule/{berlin.pk}/change/", data)
    assert response.status_code == 200
    formset = response.context["inline_admin_formsets"][0].formset
    assert "years 2000 to 2100" in formset.errors[0]["start_date"][0]
    existing.refresh_from_db()
    assert existing.start_date == date(2026, 1, 5)


def test_admin_schedule_page_adds_layers_through_the_layer_page(manager_client, berlin):
    page = manager_client.get(f"/admin/oncall/schedule/{berlin.pk}/change/").content.decode()
    assert f"/admin/oncall/rotationlayer/add/?schedule={berlin.pk}" in page
