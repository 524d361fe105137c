"""The admin index as the operations dashboard: panels, charts, filters, permissions and a
query count that does not grow with the data."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import roles
from escalations.models import Escalation
from opsportal.timeutil import absolute_label
from postmortems.models import ActionItem, Postmortem
from probes.models import Probe
from readiness import selectors as readiness_selectors
from readiness import services as readiness_services
from readiness.models import Release
from tests.factories import ServiceFactory, TeamFactory, UserFactory
from tests.metrics import factories
from tests.oncall.factories import LayerFactory, ScheduleFactory
from tests.postmortems.factories import item, postmortem, resolved_incident
from tests.probes.factories import ProbeFactory
from tests.readiness.factories import World, complete_manual_items, make_release

QUERY = {"start": "2026-03-01", "end": "2026-03-31"}


def add_operations(n: int, *, team=None, reporter=None, actor=None):
    """n of everything the current-state panels show, for one team (with ``actor``: plus
    overdue postmortems and action items)."""
    now = timezone.now()
    team = team or TeamFactory()
    service = ServiceFactory(owner_team=team)
    boss = UserFactory()
    reporter = reporter or UserFactory()
    releases = World(team, service, None, None, UserFactory(is_staff=True, roles=[roles.RELEASE_LEADS]))
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
        release = make_release(releases, name=f"Release {team.slug}", version=f"1.{i}",
                               start_in=timedelta(days=i % 6, hours=1))  # fmt: skip
        readiness_services.start_review(release=release, actor=releases.lead)
        if i % 2:
            readiness_services.record_gate(release=release, result=readiness_selectors.gate(release, now=now))
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
                  "panel-slos", "panel-releases", "panel-metrics", "panel-delivery", "panel-trends"):  # fmt: skip
        assert f'id="{panel}"' in html, panel
    # The SVG charts (metrics.charts): 3 in the trends panel, 3 in the Delivery panel. The SLO
    # panel's burn-down sparklines are class="slo-burndown" (one per SLO row; none here).
    charts = {
        "panel-trends": (
            "Incidents per week by severity",
            "Median time to resolve",
            "Median time to detect by source",
        ),
        "panel-delivery": (
            "Deploys per week",
            "Median lead time and time to restore",
            "Deploys by weekday: succeeded and change failures",
        ),
    }
    assert html.count('class="ops-chart"') == sum(len(titles) for titles in charts.values()) == 6
    for panel, titles in charts.items():
        section = html.split(f'id="{panel}"', 1)[1].split('<div class="module"', 1)[0]
        assert section.count('class="ops-chart"') == len(titles), panel
        for title in titles:
            assert f"<title>{title}</title>" in section, title
    assert 'class="slo-burndown"' not in html
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
    expected = 42 if connection.vendor == "postgresql" else 41
    assert len(small.captured_queries) == expected
    add_operations(25)
    add_operations(10, actor=manager)
    # session + user, permissions (2), the metric summary (1 on PostgreSQL; +1 window query on
    # SQLite), frequency (4), trends (1; +1 on SQLite), open incidents (2), on-call (schedules
    # + 6 from oncall.selectors.on_call), pages (1), probes (2), escalations (2), overdue
    # follow-ups (4), releases in the next 7 days (2: the total, and the rows with readiness %
    # as correlated subqueries and the gate's stored last answer - never the live gate),
    # filter form choices (2), the admin app list and recent actions, the SLO panel (1 with no
    # SLOs: the SLOs; with SLOs 4 + 1 for the burn-down charts, see slos/dashboard.py), the
    # Delivery panel (metrics.delivery.delivery_report: summary, deploys per week, weekly
    # trends, weekday x hour, by service, by team (6); on PostgreSQL in its own transaction
    # with JIT off: savepoint, SET LOCAL jit = off, release savepoint (3)).
    with django_assert_num_queries(expected):
        assert manager_client.get("/admin/", QUERY).status_code == 200


def _fmt(dt, tz):
    """The one date/time format (|when) without its relative hint, in the viewer's zone."""
    return absolute_label(dt, timezone.now(), ZoneInfo(tz))


def test_releases_panel_lists_the_next_7_days_with_gate(manager_client, manager, release_lead):
    manager.time_zone = "Asia/Tokyo"
    manager.save(update_fields=["time_zone"])
    team = TeamFactory()
    world = World(team, ServiceFactory(owner_team=team), None, None, release_lead)
    soon = make_release(world, name="Checkout", version="2.0", start_in=timedelta(days=2))
    readiness_services.start_review(release=soon, actor=release_lead)
    complete_manual_items(soon, release_lead)
    items = list(soon.review.items.all())
    percent = readiness_selectors.readiness_percent(items)
    assert 0 < percent < 100  # the automatic checks are still pending
    readiness_services.record_gate(release=soon, result=readiness_selectors.gate(soon))
    soon.refresh_from_db()
    assert soon.last_gate_decision == "no-go"
    open_now = make_release(world, name="Search", version="3.1", start_in=timedelta(hours=-1))
    later = make_release(world, name="Later", version="9.9", start_in=timedelta(days=7, hours=1))
    past = make_release(world, name="Past", version="0.1", start_in=timedelta(days=-2))
    cancelled = make_release(world, name="Dropped", version="1.0", start_in=timedelta(days=1))
    readiness_services.cancel(release=cancelled, actor=release_lead)

    html = manager_client.get("/admin/").content.decode()
    panel = html.split('id="panel-releases"', 1)[1].split('<div class="module"', 1)[0]
    assert "Releases in the next 7 days <span>2</span>" in panel
    assert "Window start (Asia/Tokyo)" in panel
    for release in (soon, open_now):
        assert f'href="/admin/readiness/release/{release.pk}/change/">{release}</a>' in panel
    for release in (later, past, cancelled):
        assert f"{release}</a>" not in panel
    assert panel.index("Search 3.1") < panel.index("Checkout 2.0")  # soonest first
    assert _fmt(soon.window_start, "Asia/Tokyo") in panel
    assert _fmt(soon.window_start, "UTC") != _fmt(soon.window_start, "Asia/Tokyo")
    assert _fmt(soon.window_start, "UTC") not in panel
    assert "(open now)" in panel
    assert f'<td class="num">{percent}%</td>' in panel
    assert "In review" in panel
    assert "Planned" in panel
    answered = soon.last_gate_at.astimezone(ZoneInfo("Asia/Tokyo"))
    assert (
        f'<span class="op-badge op-badge-red" title="answered {answered:%Y-%m-%d %H:%M}">NO-GO</span>'
        in panel
    )
    assert _fmt(soon.last_gate_at, "Asia/Tokyo") in panel  # the time of the stored answer
    assert (
        '<span class="op-badge op-badge-grey" title="the gate has not been asked yet">UNKNOWN</span>' in panel
    )

    answered = timezone.now()
    Release.objects.filter(pk=open_now.pk).update(last_gate_decision="go", last_gate_at=answered)
    panel = manager_client.get("/admin/").content.decode().split('id="panel-releases"', 1)[1]
    local = answered.astimezone(ZoneInfo("Asia/Tokyo"))
    assert f'<span class="op-badge op-badge-green" title="answered {local:%Y-%m-%d %H:%M}">GO</span>' in panel
    assert "UNKNOWN" not in panel


def test_releases_panel_only_for_who_may_view_releases(world, client):
    reader = UserFactory(username="incident-reader", is_staff=True)
    reader.user_permissions.add(
        Permission.objects.get(codename="view_incident", content_type__app_label="incidents")
    )
    client.force_login(reader)
    html = client.get("/admin/", QUERY).content.decode()
    assert 'id="panel-metrics"' in html
    assert 'id="panel-releases"' not in html
    reader.user_permissions.add(
        Permission.objects.get(codename="view_release", content_type__app_label="readiness")
    )
    client.force_login(UserFactory._meta.model.objects.get(pk=reader.pk))
    assert 'id="panel-releases"' in client.get("/admin/", QUERY).content.decode()


def test_releases_panel_follows_the_team_filter(world, manager_client, release_lead):
    x, y = world["x"], world["y"]
    make_release(
        World(x, world["checkout"], None, None, release_lead), name="Pay", start_in=timedelta(days=1)
    )
    make_release(World(y, world["search"], None, None, release_lead), name="Find", start_in=timedelta(days=1))
    panel = (
        manager_client.get("/admin/", {**QUERY, "team": y.pk})
        .content.decode()
        .split('id="panel-releases"')[1]
    )
    assert "Find 1.0</a>" in panel
    assert "Pay 1.0</a>" not in panel


def test_all_probes_up_only_when_every_probe_has_an_up_verdict(manager_client):
    """A probe that never produced a verdict (state "new") or is paused is not "up"."""
    up = ProbeFactory(state=Probe.State.UP)
    fresh = ProbeFactory(state=Probe.State.NEW)
    body = manager_client.get("/admin/").content.decode()
    assert "All probes up." not in body
    assert "None down or degraded; 1 without a verdict yet." in body
    fresh.delete()
    assert "All probes up." in manager_client.get("/admin/").content.decode()
    ProbeFactory(state=Probe.State.PAUSED)
    assert "None down or degraded; 1 paused." in manager_client.get("/admin/").content.decode()
    assert up.state == Probe.State.UP
