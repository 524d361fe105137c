"""The admin: schedules with "On call now", the 4-week calendar with overrides and gaps, quick
override, policies with inline levels, pages with their trail and the exhausted warning."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from oncall import services
from oncall.models import Override, Page
from tests.factories import TeamFactory, UserFactory
from tests.oncall.factories import LayerFactory, PolicyFactory, ScheduleFactory, level

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)


@pytest.fixture
def schedule(db):
    team = TeamFactory(name="Payments")
    ann, ben = (
        UserFactory(username="ann", first_name="Ann", last_name="A"),
        UserFactory(username="ben", first_name="Ben", last_name="B"),
    )
    s = ScheduleFactory(team=team, name="Payments primary", time_zone="Europe/Berlin")
    LayerFactory(schedule=s, people=[ann, ben])
    return s


def test_changelist_on_call_now_constant_queries(schedule, manager_client, django_assert_num_queries):
    with time_machine.travel(NOW, tick=False):
        manager_client.get("/admin/oncall/schedule/")
        with CaptureQueriesContext(connection) as one:
            response = manager_client.get("/admin/oncall/schedule/")
        assert "Ann A" in response.content.decode()
        for _ in range(6):
            s = ScheduleFactory(team=schedule.team)
            LayerFactory(schedule=s, people=[UserFactory()])
        ScheduleFactory(team=schedule.team, name="Empty one")
        with django_assert_num_queries(len(one.captured_queries)):
            response = manager_client.get("/admin/oncall/schedule/")
    assert "Nobody" in response.content.decode()  # the empty schedule's gap shows


def test_change_page_calendar_gaps_and_quick_override(schedule, manager_client, manager):
    layer = schedule.layers.first()
    layer.end_at = NOW + timedelta(days=3)
    layer.save()
    with time_machine.travel(NOW, tick=False):
        response = manager_client.get(f"/admin/oncall/schedule/{schedule.pk}/change/")
        html = response.content.decode()
        assert response.status_code == 200
        assert 'id="oc-calendar"' in html
        assert html.count('class="oc-row') == 28
        assert "Ann A" in html
        assert 'id="oc-on-call-now"' in html
        assert 'id="oc-gap-warning"' in html
        assert "oc-gap" in html
        assert 'id="oc-fairness"' in html
        posted = manager_client.post(
            f"/admin/oncall/schedule/{schedule.pk}/override/",
            {
                "user": manager.pk,
                "start": "2026-03-04T18:00",
                "end": "2026-03-05T09:00",
                "reason": "I'll take tonight",
            },
            follow=True,
        )
        assert posted.status_code == 200
        override = Override.objects.get(schedule=schedule)
        assert override.start == datetime(2026, 3, 4, 17, 0, tzinfo=UTC)  # 18:00 Berlin
        assert "oc-override" in posted.content.decode()
        bad = manager_client.post(
            f"/admin/oncall/schedule/{schedule.pk}/override/",
            {"user": manager.pk, "start": "2026-03-05T09:00", "end": "2026-03-04T18:00"},
            follow=True,
        )
        assert "Override not added" in bad.content.decode()
        assert Override.objects.count() == 1


def test_quick_override_refused_for_someone_else_by_a_responder(schedule, client, responder):
    client.force_login(responder)
    other = UserFactory()
    response = client.post(
        f"/admin/oncall/schedule/{schedule.pk}/override/",
        {"user": other.pk, "start": "2026-03-04T18:00", "end": "2026-03-05T09:00"},
        follow=True,
    )
    assert "Override not added" in response.content.decode()
    assert not Override.objects.exists()


def test_fairness_period_and_garbage_params(schedule, manager_client):
    url = f"/admin/oncall/schedule/{schedule.pk}/change/"
    assert (
        manager_client.get(url, {"fairness_from": "2026-01-05", "fairness_to": "2026-02-01"}).status_code
        == 200
    )
    assert manager_client.get(url, {"fairness_from": "nonsense", "fairness_to": "x"}).status_code == 200


def test_policy_admin_inline_levels_and_who_now(schedule, manager_client):
    policy = PolicyFactory(team=schedule.team, name="Payments default")
    level(policy, 1, schedules=[schedule])
    response = manager_client.get(f"/admin/oncall/escalationpolicy/{policy.pk}/change/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "levels-TOTAL_FORMS" in html
    assert "Level 1:" in html
    assert manager_client.get("/admin/oncall/escalationpolicy/").status_code == 200


def test_page_admin_trail_and_exhausted_warning(schedule, manager_client):
    policy = PolicyFactory(team=schedule.team)
    level(policy, 1, delay=1, schedules=[schedule])
    with time_machine.travel(NOW, tick=False):
        page = services.open_page(title="Checkout 500s", summary="", url="", policy=policy, dedup_key="adm")
    page.refresh_from_db()
    with time_machine.travel(NOW + timedelta(minutes=1), tick=False):
        services.advance_page(page_id=page.pk, step_token=page.step_token)
    page.refresh_from_db()
    assert page.status == Page.Status.EXHAUSTED
    listing = manager_client.get("/admin/oncall/page/")
    assert "exhausted their escalation policy" in listing.content.decode()
    detail = manager_client.get(f"/admin/oncall/page/{page.pk}/change/").content.decode()
    assert "Policy exhausted" in detail
    assert "Notified" in detail
    assert f"oncall:page:{page.pk}:r0:s0:l1" in detail  # the notification trail
    ack = manager_client.post(
        "/admin/oncall/page/", {"action": "acknowledge", "_selected_action": [page.pk]}, follow=True
    )
    assert ack.status_code == 200
    page.refresh_from_db()
    assert page.status == "acknowledged"


def test_override_admin_records_a_swap_with_both_names(schedule, manager_client):
    ann = schedule.layers.first().members.first().user
    ben = UserFactory(username="benny")
    with time_machine.travel(NOW, tick=False):
        response = manager_client.post(
            "/admin/oncall/override/add/",
            {"schedule": schedule.pk, "user": ben.pk, "covers": ann.pk, "start_0": "2026-03-05", "start_1": "10:00",
             "end_0": "2026-03-05", "end_1": "12:00", "reason": "swap"},
        )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:3000]
    swap = Override.objects.get()
    assert (swap.kind, swap.user, swap.covers) == ("swap", ben, ann)
