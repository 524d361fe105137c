"""Component status derived from incidents, maintenance and the recorded manual override."""

from datetime import timedelta

import pytest
from django.utils import timezone

from incidents import services as incidents
from opsportal.errors import InvalidInput, NotAllowed
from status import selectors, services
from status.models import ComponentStatus
from tests.status.factories import component
from tests.status.factories import declare_public as declare

pytestmark = pytest.mark.django_db


def shown(c):
    snap = selectors.snapshot()
    return {row["name"]: row["status"] for row in snap["components"]}[c.name], snap


def test_no_incident_is_operational(manager):
    api = component(name="API")
    status, snap = shown(api)
    assert status == ComponentStatus.OPERATIONAL
    assert snap["banner"] == "All systems operational"


@pytest.mark.parametrize(
    ("level", "expected", "indicator"),
    [
        (1, ComponentStatus.MAJOR_OUTAGE, "critical"),
        (2, ComponentStatus.PARTIAL_OUTAGE, "major"),
        (3, ComponentStatus.DEGRADED_PERFORMANCE, "minor"),
        (4, ComponentStatus.DEGRADED_PERFORMANCE, "minor"),
    ],
)
def test_open_incident_severity_sets_status(manager, level, expected, indicator):
    api = component(name="API")
    declare(actor=manager, level=level, service=api.service)
    status, snap = shown(api)
    assert status == expected
    assert snap["overall"] == expected
    assert snap["indicator"] == indicator


def test_monitoring_is_degraded_and_resolved_is_operational(manager):
    api = component(name="API")
    incident = declare(actor=manager, level=1, service=api.service)
    incidents.mitigate(incident=incident, actor=manager)
    assert shown(api)[0] == ComponentStatus.DEGRADED_PERFORMANCE
    incidents.resolve(incident=incident, actor=manager)
    assert shown(api)[0] == ComponentStatus.OPERATIONAL


def test_worst_incident_wins_and_other_components_unaffected(manager):
    api, web = component(name="API"), component(name="Web", order=2)
    declare(actor=manager, level=3, service=api.service)
    declare(actor=manager, level=1, service=api.service, title="Second")
    assert shown(api)[0] == ComponentStatus.MAJOR_OUTAGE
    assert shown(web)[0] == ComponentStatus.OPERATIONAL


def test_drills_and_not_public_incidents_do_not_count(manager):
    api = component(name="API")
    declare(actor=manager, level=1, service=api.service, drill=True)
    hidden = declare(actor=manager, level=1, service=api.service, title="Hidden")
    services.set_incident_public(incident=hidden, actor=manager, public=False)
    status, snap = shown(api)
    assert status == ComponentStatus.OPERATIONAL
    assert snap["incidents"] == []


def test_only_managers_mark_incidents_not_public(manager, responder, support_user, outsider):
    api = component(name="API")
    incident = declare(actor=manager, level=2, service=api.service)
    for user in (responder, support_user, outsider):
        with pytest.raises(NotAllowed):
            services.set_incident_public(incident=incident, actor=user, public=False)
    record = services.set_incident_public(incident=incident, actor=manager, public=False)
    assert record.history.first().history_user == manager


def test_running_maintenance_shows_and_incident_outranks_it(manager):
    api = component(name="API")
    now = timezone.now()
    services.schedule_maintenance(
        actor=manager,
        title="DB upgrade",
        starts_at=now - timedelta(minutes=5),
        ends_at=now + timedelta(hours=1),
        components=[api],
    )
    status, snap = shown(api)
    assert status == ComponentStatus.UNDER_MAINTENANCE
    assert snap["maintenances"][0]["in_progress"]
    declare(actor=manager, level=2, service=api.service)
    assert shown(api)[0] == ComponentStatus.PARTIAL_OUTAGE


def test_override_wins_and_is_recorded_with_who_when_why(manager, responder):
    api = component(name="API")
    declare(actor=manager, level=1, service=api.service)
    services.set_override(
        component=api, actor=responder, status="degraded_performance", reason="Fix deployed"
    )
    assert shown(api)[0] == ComponentStatus.DEGRADED_PERFORMANCE
    services.set_override(component=api, actor=manager, status="", reason="Back to derived")
    assert shown(api)[0] == ComponentStatus.MAJOR_OUTAGE

    history = list(api.history.order_by("history_date", "history_id"))
    override_rows = [h for h in history if h.history_change_reason and "Override" in h.history_change_reason]
    assert [(h.override_status, h.history_user, h.history_change_reason) for h in override_rows] == [
        ("degraded_performance", responder, "Override: Degraded performance (Fix deployed)"),
        ("", manager, "Override cleared: Back to derived"),
    ]
    assert override_rows[0].override_by == responder
    assert override_rows[0].override_at is not None


def test_override_needs_reason_valid_status_and_role(manager, support_user, outsider):
    api = component(name="API")
    with pytest.raises(InvalidInput):
        services.set_override(component=api, actor=manager, status="major_outage", reason="")
    with pytest.raises(InvalidInput):
        services.set_override(component=api, actor=manager, status="on_fire", reason="x")
    for user in (support_user, outsider):
        with pytest.raises(NotAllowed):
            services.set_override(component=api, actor=user, status="major_outage", reason="x")


def test_components_grouped_and_ordered_non_public_hidden(manager):
    component(name="B", group="Core", order=2)
    component(name="A", group="Core", order=1)
    component(name="Edge", group="Network", order=1)
    component(name="Secret", group="Core", order=0, public=False)
    snap = selectors.snapshot()
    assert [(g["name"], [c["name"] for c in g["components"]]) for g in snap["groups"]] == [
        ("Core", ["A", "B"]),
        ("Network", ["Edge"]),
    ]
