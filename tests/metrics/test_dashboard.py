"""The admin index as the operations dashboard: panels, charts, filters, permissions and a
query count that does not grow with the data."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from escalations.models import Escalation
from postmortems.models import ActionItem, Postmortem
from probes.models import Probe
from tests.factories import ServiceFactory, TeamFactory, UserFactory
from tests.metrics import factories
from tests.oncall.factories import LayerFactory, ScheduleFactory
from tests.postmortems.factories import item, postmortem, resolved_incident
from tests.probes.factories import ProbeFactory

QUERY = {"start": "2026-03-01", "end": "2026-03-31"}


def add_operations(n: int, *, team=None, reporter=None, actor=None):
    """n of everything the current-state panels show, for one team (with ``actor``: plus
    overdue postmortems and action items)."""
    now = timezone.now()
    team = team or TeamFactory()
    service = ServiceFactory(owner_team=team)
    boss = UserFactory()
    reporter = reporter or UserFactory()
    for i in range(n):
        factories.create(detected_at=now - timedelta(hours=i + 1), ttd=3, level=1 + i % 4, team=team,
                         service=service, services=[service])  # fmt: skip
        factories.create(detected_at=now - timedelta(days=3, hours=i), ttd=3, tta=2, ttm=20, ttr=40 + i,
                         team=team, service=service, commander=boss)  # fmt: skip
        ProbeFactory(service=service, state=Probe.State.DOWN if i % 2 else Probe.State.DEGRADED)
        Escalation.objects.create(
            reporter=reporter, customer=f"cust-{i}", contact="c@example.com", service=service, summary="broken",
            impact="blocked", ack_due_at=now + timedelta(minutes=10 * i - 5),
        )  # fmt: skip
        schedule = ScheduleFactory(team=team)
        LayerFactory(schedule=schedule, people=[UserFactory(), UserFactory()])
        if actor is not None:
            pm = postmortem(actor=actor, incident=resolved_incident(actor=actor, service=service))
            Postmortem.objects.filter(pk=pm.pk).update(due_at=now - timedelta(days=1), team=team)
            late = item(pm, actor, team=team)
            ActionItem.objects.filter(pk=late.pk).update(due_date=now.date() - timedelta(days=2))
    return team


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


def test_dashboard_panels_and_charts(world, manager_client, manager):
    team = add_operations(2, actor=manager)
    html = manager_client.get("/admin/", QUERY).content.decode()
    for panel in ("panel-open", "panel-oncall", "panel-probes", "panel-escalations", "panel-followups",
                  "panel-metrics", "panel-trends"):  # fmt: skip
        assert f'id="{panel}"' in html, panel
    assert html.count('class="ops-chart"') == 3
    for title in (
        "Incidents per week by severity",
        "Median time to resolve",
        "Median time to detect by source",
    ):
        assert f"<title>{title}</title>" in html
    assert "Week starting" in html
    assert "Median duration" in html
    assert "<title>Week of" in html  # tooltips
    assert team.name in html  # on call per team
    assert 'id="content-main"' in html
    assert "app-incidents" in html
    assert "resolved_at - started_at" in html  # definitions in the help text
    assert "2 postmortems, 2 action items" in html
    assert "Escalations awaiting acknowledgement <span>2 (1 late)" in html


def test_filter_to_one_team_changes_numbers(world, manager_client):
    everyone = manager_client.get("/admin/", QUERY).content.decode()
    team_y = manager_client.get("/admin/", {**QUERY, "team": world["y"].pk}).content.decode()
    assert '<span id="metric-incidents">5 incidents' in everyone
    assert '<span id="metric-incidents">2 incidents' in team_y
    assert f'<option value="{world["y"].pk}" selected>Team Y</option>' in team_y


def test_invalid_filter_shows_error_not_500(world, manager_client):
    response = manager_client.get("/admin/", {"start": "2026-03-10", "end": "2026-03-01", "team": "nope"})
    assert response.status_code == 200
    assert "errornote" in response.content.decode()


def test_who_sees_the_dashboard(world, client, responder, release_lead, support_user, outsider):
    for user in (responder, release_lead):
        client.force_login(user)
        html = client.get("/admin/", QUERY).content.decode()
        assert 'id="panel-metrics"' in html
    staff_without_roles = UserFactory(username="plainstaff", is_staff=True)
    client.force_login(staff_without_roles)
    html = client.get("/admin/").content.decode()
    assert 'id="ops-dashboard"' not in html  # no incident permission: plain app list
    for user in (support_user, outsider):
        client.force_login(user)
        assert client.get("/admin/").status_code == 403
    client.logout()
    assert client.get("/admin/").status_code == 302


def test_dashboard_query_count_does_not_grow(world, manager, manager_client, django_assert_num_queries):
    add_operations(1, actor=manager)
    with CaptureQueriesContext(connection) as small:
        assert manager_client.get("/admin/", QUERY).status_code == 200
    expected = 30 if connection.vendor == "postgresql" else 32
    assert len(small.captured_queries) == expected
    add_operations(25)
    add_operations(10, actor=manager)
    # session + user, permissions, the metric summary (1 on PostgreSQL; +1 window query on
    # SQLite), frequency (4), trends (1; +1 on SQLite), open incidents (2), on-call (schedules
    # + 6 from oncall.selectors.on_call), pages (1), probes (2), escalations (2), overdue
    # follow-ups (4), filter form choices (2), the admin app list and recent actions.
    with django_assert_num_queries(expected):
        assert manager_client.get("/admin/", QUERY).status_code == 200
