"""Admin: changelist badges, filters, constant query count, actions and the extra views."""

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from operations.models import CheckIn, Responsibility
from tests.factories import TeamFactory, UserFactory
from tests.operations.factories import ResponsibilityFactory
from tests.operations.helpers import form_data

CHANGELIST = reverse("admin:operations_responsibility_changelist")
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def make_mix(team=None):
    """One duty in each health state at NOW."""
    team = team or TeamFactory()
    with time_machine.travel(NOW - timedelta(days=30), tick=False):
        ResponsibilityFactory(team=team, title="Late one", first_due_on=date(2026, 11, 20))
        ResponsibilityFactory(
            team=team, title="Soon one", first_due_on=date(2026, 11, 26), due_time=datetime.min.time()
        )
        ResponsibilityFactory(team=team, title="Fine one", first_due_on=date(2026, 12, 4))
        ResponsibilityFactory(team=team, title="Nobody's", owner=None, first_due_on=date(2026, 12, 4))
    return team


@pytest.mark.django_db
def test_changelist_shows_health_badges_and_filters_by_health(client, manager):
    make_mix()
    client.force_login(manager)
    with time_machine.travel(NOW, tick=False):
        html = client.get(CHANGELIST).content.decode()
        assert 'op-badge-red" title="Overdue"' in html
        assert 'op-badge-yellow" title="Due soon"' in html
        assert 'op-badge-green" title="On track"' in html
        assert 'op-badge-purple" title="Unowned"' in html
        for health, title in [
            ("overdue", "Late one"),
            ("due_soon", "Soon one"),
            ("on_track", "Fine one"),
            ("unowned", "Nobody&#x27;s"),
        ]:
            page = client.get(CHANGELIST, {"health": health}).content.decode()
            assert title in page, health
            assert page.count('class="action-select"') == 1, health


@pytest.mark.django_db
def test_changelist_filters_by_team_owner_and_area(client, manager):
    a = ResponsibilityFactory(title="Alpha", area="backlog_hygiene")
    ResponsibilityFactory(title="Beta")
    client.force_login(manager)
    for params in (
        {"team__id__exact": a.team_id},
        {"owner__id__exact": a.owner_id},
        {"area__exact": "backlog_hygiene"},
    ):
        page = client.get(CHANGELIST, params).content.decode()
        assert "Alpha" in page, params
        assert "Beta" not in page, params


@pytest.mark.django_db
def test_changelist_query_count_is_constant(client, manager, django_assert_num_queries):
    client.force_login(manager)
    make_mix()
    # session, user, user perms, group perms, team filter choices, owner filter choices,
    # filtered COUNT, total COUNT, the page of rows (FKs joined, last check-in as subqueries)
    with django_assert_num_queries(9), CaptureQueriesContext(connection) as one_team:
        assert client.get(CHANGELIST).status_code == 200
    for _ in range(3):
        make_mix()
    with django_assert_num_queries(len(one_team)):
        assert client.get(CHANGELIST).status_code == 200


@pytest.mark.django_db
def test_check_in_action_and_errors_as_messages(client, manager):
    duty = ResponsibilityFactory()
    client.force_login(manager)
    with time_machine.travel(NOW, tick=False):
        data = {"action": "check_in_now", "_selected_action": [duty.pk]}
        response = client.post(CHANGELIST, data, follow=True)
        assert "Checked in 1 duty" in response.content.decode()
        response = client.post(CHANGELIST, data, follow=True)
        assert "already done" in response.content.decode()
    assert CheckIn.objects.get().via == "admin"


@pytest.mark.django_db
def test_reassign_action_with_intermediate_page(client, manager):
    duties = [ResponsibilityFactory() for _ in range(2)]
    newcomer = UserFactory(first_name="Nia", last_name="New")
    client.force_login(manager)
    ids = [d.pk for d in duties]
    page = client.post(CHANGELIST, {"action": "reassign_selected", "_selected_action": ids})
    assert page.status_code == 200
    assert "Nia New" in page.content.decode()
    response = client.post(
        CHANGELIST,
        {
            "action": "reassign_selected",
            "_selected_action": ids,
            "apply": "1",
            "owner": newcomer.pk,
            "keep_backup": "on",
        },
        follow=True,
    )
    assert "Reassigned 2 duty" in response.content.decode()
    for duty in duties:
        old_backup = duty.backup
        duty.refresh_from_db()
        assert duty.owner == newcomer
        assert duty.backup == old_backup


@pytest.mark.django_db
def test_reassign_and_check_in_views(client, manager, responder):
    duty = ResponsibilityFactory()
    newcomer = UserFactory()
    client.force_login(responder)
    assert client.get(reverse("admin:operations_responsibility_reassign", args=[duty.pk])).status_code == 403
    assert client.get(reverse("admin:operations_responsibility_check_in", args=[duty.pk])).status_code == 403
    client.force_login(manager)
    url = reverse("admin:operations_responsibility_reassign", args=[duty.pk])
    response = client.post(url, {"owner": newcomer.pk, "backup": newcomer.pk})
    assert "other than the owner" in response.content.decode()
    response = client.post(
        url + "?next=/operating-model/", {"owner": newcomer.pk, "backup": "", "next": "/operating-model/"}
    )
    assert response["Location"] == "/operating-model/"
    duty.refresh_from_db()
    assert (duty.owner, duty.backup) == (newcomer, None)
    check = reverse("admin:operations_responsibility_check_in", args=[duty.pk])
    response = client.post(check, {"note": "done", "evidence_url": "ci.example.com/run/1"})
    assert response.status_code == 302
    assert CheckIn.objects.get().evidence_url == "https://ci.example.com/run/1"


@pytest.mark.django_db
def test_add_duty_through_the_admin_form_and_errors_on_fields(client, manager):
    team = TeamFactory()
    client.force_login(manager)
    add = reverse("admin:operations_responsibility_add")
    data = form_data(client.get(add).content.decode(), "responsibility_form")
    data.update(
        title="Dependency upgrades", team=team.pk, area="dependency_upgrades", definition_of_done="All green",
        cadence="cron", cron_expression="*/10 * * * *", first_due_on="2026-12-01", due_time="09:00:00",
        time_zone="Europe/Berlin",
    )  # fmt: skip
    response = client.post(add, data)
    assert response.status_code == 200
    assert "more often than once an hour" in response.content.decode()
    data["cron_expression"] = "0 9 1 * *"
    response = client.post(add, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    duty = Responsibility.objects.get()
    assert duty.next_due_at == datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    assert duty.history.latest().history_user == manager
    change = client.get(reverse("admin:operations_responsibility_change", args=[duty.pk])).content.decode()
    assert "Check in" in change
    assert "Reassign" in change
    assert "#duty-" in change


@pytest.mark.django_db
def test_change_page_shows_cycle_history(client, manager):
    with time_machine.travel(NOW - timedelta(days=30), tick=False):
        duty = ResponsibilityFactory(first_due_on=date(2026, 10, 30))
    from operations import services

    with time_machine.travel(datetime(2026, 11, 6, 8, 0, tzinfo=UTC), tick=False):
        services.check_in(
            responsibility=duty, actor=duty.owner, done_at=datetime(2026, 10, 30, 8, 0, tzinfo=UTC)
        )
    client.force_login(manager)
    with time_machine.travel(NOW, tick=False):
        html = client.get(reverse("admin:operations_responsibility_change", args=[duty.pk])).content.decode()
    assert "On-time streak" in html
    assert ">Done<" in html
    assert ">Overdue<" in html
    assert ">Upcoming<" in html


@pytest.mark.django_db
def test_check_ins_are_read_only_in_the_admin(client, manager):
    client.force_login(manager)
    assert client.get(reverse("admin:operations_checkin_changelist")).status_code == 200
    assert client.get(reverse("admin:operations_checkin_add")).status_code == 403
