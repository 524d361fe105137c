from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import IntegrityError, transaction
from django.utils import timezone

from incidents import selectors, services
from incidents.models import Incident, Severity, StatusUpdate, TimelineEvent
from opsportal.errors import Conflict, InvalidInput, NotAllowed
from tests.factories import ServiceFactory, TeamFactory, UserFactory
from tests.incidents.factories import declare, severity

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)  # a Tuesday


def kinds(incident):
    """The incident's own timeline, without the paging entries a paging severity adds
    (those are covered in test_paging_bridge.py)."""
    return list(selectors.timeline(incident).exclude(kind="page").values_list("kind", flat=True))


# --- severity framework ------------------------------------------------------------------
def test_severities_are_seeded_with_the_issue_defaults():
    rows = {s.level: s for s in Severity.objects.all()}
    assert sorted(rows) == [1, 2, 3, 4]
    assert (rows[1].ack_sla_minutes, rows[1].update_cadence_minutes, rows[1].pages_oncall) == (5, 30, True)
    assert (rows[2].ack_sla_minutes, rows[2].update_cadence_minutes, rows[2].pages_oncall) == (15, 60, True)
    assert (rows[3].ack_sla_minutes, rows[3].update_cadence_minutes, rows[3].pages_oncall) == (
        240,
        None,
        False,
    )
    assert rows[4].ack_sla_mode == Severity.AckSla.NEXT_BUSINESS_DAY
    assert rows[4].ack_sla_minutes is None
    assert [rows[n].postmortem_required for n in (1, 2, 3, 4)] == [True, True, False, False]
    assert rows[4].ack_sla_display == "next business day"
    assert rows[3].ack_sla_display == "4 h"
    assert rows[1].label == "SEV-1"


def test_ack_due_in_minutes_and_next_business_day(settings):
    settings.TIME_ZONE = "Europe/Berlin"
    assert severity(1).ack_due_at(T0) == T0 + timedelta(minutes=5)
    friday_evening = datetime(2026, 3, 13, 18, 0, tzinfo=UTC)  # 19:00 Berlin, Friday
    # next business day: Monday 09:00 Berlin (CET, UTC+1) = 08:00 UTC
    assert severity(4).ack_due_at(friday_evening) == datetime(2026, 3, 16, 8, 0, tzinfo=UTC)


def test_severity_constraints_refuse_inconsistent_ack_sla():
    sev = severity(3)
    sev.ack_sla_minutes = None
    with pytest.raises(IntegrityError), transaction.atomic():
        sev.save()
    sev = severity(3)
    sev.level = 5
    with pytest.raises(IntegrityError), transaction.atomic():
        sev.save()


def test_postmortem_due_in_business_days(settings):
    settings.TIME_ZONE = "UTC"
    friday = datetime(2026, 3, 13, 14, 0, tzinfo=UTC)
    assert severity(1).postmortem_due_at(friday) == datetime(2026, 3, 20, 14, 0, tzinfo=UTC)
    assert severity(3).postmortem_due_at(friday) is None


# --- declare ---------------------------------------------------------------------------
def test_declare_derives_team_numbers_and_writes_timeline(
    manager, paging_calls, django_capture_on_commit_callbacks
):
    team = TeamFactory(name="Payments", manager=manager)
    svc = ServiceFactory(name="Billing API", owner_team=team)
    with django_capture_on_commit_callbacks(execute=True):
        first = services.declare_incident(
            title="  Charges failing ", severity=severity(2), services=[svc], actor=manager
        )
        second = declare(actor=manager, level=3, service=svc)
    assert first.number == 1001
    assert second.number == 1002
    assert first.reference == "INC-1001"
    assert str(first) == "INC-1001: Charges failing"
    assert first.owning_team == team
    assert first.primary_service == svc
    assert first.status == Incident.Status.INVESTIGATING
    assert first.started_at == first.detected_at
    assert first.declared_by == manager
    assert kinds(first) == ["declared"]
    # SEV-2 pages on-call, SEV-3 does not; the hook runs on commit
    assert paging_calls == [(first.pk, "declared", False)]
    assert first.history.earliest().history_user == manager  # admin History shows who


def test_declare_with_explicit_times_and_team(responder):
    team = TeamFactory()
    svc = ServiceFactory()
    incident = declare(
        actor=responder,
        service=svc,
        owning_team=team,
        detected_at=T0,
        started_at=T0 - timedelta(minutes=20),
        detection_source="slo",
    )
    assert incident.owning_team == team
    assert incident.started_at == T0 - timedelta(minutes=20)
    events = list(selectors.timeline(incident).exclude(kind="page"))
    assert [e.kind for e in events] == ["details_changed", "declared"]  # impact began first
    assert events[0].occurred_at == T0 - timedelta(minutes=20)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"title": " "}, "title"),
        ({"detection_source": "twitter"}, "detection_source"),
        ({"detected_at": T0, "started_at": T0 + timedelta(minutes=1)}, "detected_at"),
        ({"detected_at": timezone.now() + timedelta(hours=1)}, "detected_at"),
        ({"detected_at": datetime(2026, 1, 1, 12, 0)}, "detected_at"),
        ({"severity": 9}, "severity"),
    ],
)
def test_declare_refuses_bad_input(responder, kwargs, field):
    svc = ServiceFactory()
    args = {"title": "x", "severity": severity(2), "services": [svc], "actor": responder, **kwargs}
    with pytest.raises(InvalidInput) as exc:
        services.declare_incident(**args)
    assert exc.value.field == field
    assert not Incident.objects.exists()


def test_declare_needs_a_service_or_team(responder):
    with pytest.raises(InvalidInput, match="at least one affected service"):
        services.declare_incident(title="x", severity=2, services=[], actor=responder)


@pytest.mark.parametrize("who", ["support_user", "release_lead", "outsider"])
def test_only_responders_and_managers_declare(request, who):
    with pytest.raises(NotAllowed):
        declare(actor=request.getfixturevalue(who))


def test_automation_declares_without_actor():
    incident = declare(actor=None, detection_source="monitoring")
    assert incident.declared_by is None
    assert "by automation" in selectors.timeline(incident).get(kind="declared").text


# --- acknowledge ------------------------------------------------------------------------
def test_acknowledge_stamps_once_and_makes_commander(responder, responder2):
    incident = declare(actor=None, detected_at=T0)
    at = T0 + timedelta(minutes=3)
    services.acknowledge(incident=incident, actor=responder, at=at)
    incident.refresh_from_db()
    assert incident.acknowledged_at == at
    assert incident.acknowledged_by == responder
    assert incident.commander == responder
    ack = selectors.timeline(incident).get(kind="acknowledged")
    assert ack.data == {"within_sla": True, "via": "incident"}
    with pytest.raises(Conflict, match=r"already acknowledged by .* at 2026-03-10 14:03:00"):
        services.acknowledge(incident=incident, actor=responder2)
    assert TimelineEvent.objects.filter(kind="acknowledged").count() == 1


def test_late_acknowledgement_is_marked(responder):
    incident = declare(actor=None, level=1, detected_at=T0)
    services.acknowledge(incident=incident, actor=responder, at=T0 + timedelta(minutes=6))
    ack = selectors.timeline(incident).get(kind="acknowledged")
    assert ack.data == {"within_sla": False, "via": "incident"}
    assert "after the acknowledgement SLA" in ack.text


def test_acknowledge_keeps_existing_commander(manager, responder):
    incident = declare(actor=manager, commander=manager)
    services.acknowledge(incident=incident, actor=responder)
    incident.refresh_from_db()
    assert incident.commander == manager
    assert incident.acknowledged_by == responder


def test_acknowledge_before_detection_is_refused(responder):
    incident = declare(actor=None, detected_at=T0)
    with pytest.raises(InvalidInput, match="earlier than detection"):
        services.acknowledge(incident=incident, actor=responder, at=T0 - timedelta(seconds=1))
    incident.refresh_from_db()
    assert incident.acknowledged_at is None


@pytest.mark.parametrize("who", ["support_user", "release_lead", "outsider"])
def test_acknowledge_refused_for_non_responders(request, who, manager):
    incident = declare(actor=manager)
    with pytest.raises(NotAllowed):
        services.acknowledge(incident=incident, actor=request.getfixturevalue(who))


# --- roles -----------------------------------------------------------------------------
def test_take_command_and_roles_write_events(manager, responder, responder2):
    incident = declare(actor=manager)
    services.acknowledge(incident=incident, actor=responder)
    services.take_command(incident=incident, actor=manager)
    services.assign_role(incident=incident, actor=manager, role="comms_lead", user=responder2)
    services.assign_role(incident=incident, actor=manager, role="scribe", user=responder)
    incident.refresh_from_db()
    assert (incident.commander, incident.comms_lead, incident.scribe) == (manager, responder2, responder)
    texts = list(selectors.timeline(incident).filter(kind="role_changed").values_list("text", flat=True))
    assert texts[0].endswith(f"is incident commander (was {responder}).")
    assert "communications lead" in texts[1]
    assert "scribe" in texts[2]
    with pytest.raises(InvalidInput, match="needs a commander"):
        services.assign_role(incident=incident, actor=manager, role="commander", user=None)
    # taking command you already hold changes nothing
    services.take_command(incident=incident, actor=manager)
    assert selectors.timeline(incident).filter(kind="role_changed").count() == 3


def test_roles_only_for_responders(manager, support_user):
    incident = declare(actor=manager)
    with pytest.raises(InvalidInput):
        services.assign_role(incident=incident, actor=manager, role="scribe", user=support_user)
    with pytest.raises(InvalidInput):
        services.assign_role(incident=incident, actor=manager, role="boss", user=manager)


# --- status transitions ----------------------------------------------------------------
def test_full_lifecycle_stamps_each_timestamp_once(manager, responder):
    with time_machine.travel(T0, tick=False):
        incident = declare(actor=manager, detected_at=T0)
    with time_machine.travel(T0 + timedelta(minutes=2), tick=False):
        services.acknowledge(incident=incident, actor=responder)
    with time_machine.travel(T0 + timedelta(minutes=10), tick=False):
        services.identify(incident=incident, actor=responder, note="Bad deploy.")
    with time_machine.travel(T0 + timedelta(minutes=20), tick=False):
        services.mitigate(incident=incident, actor=responder)
    with time_machine.travel(T0 + timedelta(minutes=50), tick=False):
        services.resolve(incident=incident, actor=responder)
    with time_machine.travel(T0 + timedelta(days=2), tick=False):
        services.close(incident=incident, actor=manager)
    incident.refresh_from_db()
    assert incident.status == "closed"
    assert incident.acknowledged_at == T0 + timedelta(minutes=2)
    assert incident.mitigated_at == T0 + timedelta(minutes=20)
    assert incident.resolved_at == T0 + timedelta(minutes=50)
    assert incident.resolved_by == responder
    assert incident.closed_at == T0 + timedelta(days=2)
    assert kinds(incident) == ["declared", "acknowledged"] + ["status_changed"] * 4
    texts = list(selectors.timeline(incident).filter(kind="status_changed").values_list("text", flat=True))
    assert texts[0] == "Status investigating -> identified. Bad deploy."
    assert incident.history.count() >= 6


def test_resolve_unacknowledged_acknowledges_first_and_stamps_mitigation(responder):
    incident = declare(actor=None, detected_at=T0)
    services.resolve(incident=incident, actor=responder, at=T0 + timedelta(minutes=30))
    incident.refresh_from_db()
    assert (
        incident.acknowledged_at
        == incident.mitigated_at
        == incident.resolved_at
        == T0 + timedelta(minutes=30)
    )
    assert incident.commander == responder
    assert kinds(incident) == ["declared", "acknowledged", "status_changed"]


@pytest.mark.parametrize(
    ("path", "fn", "message"),
    [
        ([], "close", "cannot move from investigating to closed"),
        ([], "reopen", "already investigating"),
        (["resolve"], "identify", "cannot move from resolved to identified"),
        (["resolve"], "mitigate", "cannot move from resolved to monitoring"),
        (["resolve"], "resolve", "already resolved by"),
        (["mitigate"], "identify", "cannot move from monitoring to identified"),
        (["resolve", "close"], "reopen", "cannot move from closed to investigating"),
        (["resolve", "close"], "acknowledge", "already acknowledged by"),
        (["identify"], "identify", "already identified"),
    ],
)
def test_refused_transitions_are_conflicts(responder, path, fn, message):
    incident = declare(actor=responder)
    for step in path:
        getattr(services, step)(incident=incident, actor=responder)
    before = kinds(incident)
    with pytest.raises(Conflict, match=message):
        getattr(services, fn)(incident=incident, actor=responder)
    assert kinds(incident) == before


def test_reopen_clears_resolution_and_keeps_it_in_the_timeline(responder):
    incident = declare(actor=responder, detected_at=T0)
    services.resolve(incident=incident, actor=responder, at=T0 + timedelta(minutes=5))
    services.reopen(incident=incident, actor=responder, reason="Errors are back.")
    incident.refresh_from_db()
    assert incident.status == "investigating"
    assert incident.resolved_at is None
    assert incident.mitigated_at is None
    assert incident.resolved_by is None
    assert incident.acknowledged_at is not None  # acknowledgement is stamped once, ever
    assert incident.reopened_count == 1
    event = selectors.timeline(incident).filter(kind="status_changed").last()
    assert event.text == "Reopened (resolved -> investigating). Errors are back."
    # SEV-2 pages on-call again (here its team has no policy, which the timeline says)
    assert selectors.timeline(incident).last().text.startswith("On-call was NOT paged")
    assert event.data["previous_resolved_at"] == (T0 + timedelta(minutes=5)).isoformat()
    services.resolve(incident=incident, actor=responder)
    assert Incident.objects.get(pk=incident.pk).status == "resolved"


def test_resolution_before_mitigation_is_refused(responder):
    incident = declare(actor=responder, detected_at=T0)
    services.mitigate(incident=incident, actor=responder, at=T0 + timedelta(minutes=30))
    with pytest.raises(InvalidInput, match="Resolution cannot be earlier than mitigation"):
        services.resolve(incident=incident, actor=responder, at=T0 + timedelta(minutes=10))
    assert Incident.objects.get(pk=incident.pk).status == "monitoring"


def test_close_before_resolution_is_refused(responder):
    incident = declare(actor=responder, detected_at=T0)
    services.resolve(incident=incident, actor=responder, at=T0 + timedelta(minutes=30))
    with pytest.raises(InvalidInput, match="Closing cannot be earlier than resolution"):
        services.close(incident=incident, actor=responder, at=T0 + timedelta(minutes=29))


def test_close_guards_refuse_with_their_reason(responder):
    incident = declare(actor=responder, level=1)
    services.resolve(incident=incident, actor=responder)

    def needs_postmortem(inc):
        return "a published postmortem is required" if inc.severity.postmortem_required else None

    services.register_close_guard(needs_postmortem)
    services.register_close_guard(needs_postmortem)  # idempotent
    try:
        with pytest.raises(Conflict, match=r"cannot be closed yet: a published postmortem is required$"):
            services.close(incident=incident, actor=responder)
    finally:
        services.unregister_close_guard(needs_postmortem)
    services.close(incident=incident, actor=responder)
    assert Incident.objects.get(pk=incident.pk).status == "closed"


def test_set_status_dispatches(responder):
    incident = declare(actor=responder)
    services.set_status(incident=incident, actor=responder, status="identified")
    services.set_status(incident=incident, actor=responder, status="monitoring")
    services.set_status(incident=incident, actor=responder, status="resolved")
    services.set_status(incident=incident, actor=responder, status="investigating", note="back")
    assert Incident.objects.get(pk=incident.pk).status == "investigating"
    with pytest.raises(InvalidInput):
        services.set_status(incident=incident, actor=responder, status="exploded")


@pytest.mark.parametrize("fn", ["identify", "mitigate", "resolve", "reopen", "close", "take_command"])
def test_transitions_refused_for_support(support_user, responder, fn):
    incident = declare(actor=responder)
    with pytest.raises(NotAllowed):
        getattr(services, fn)(incident=incident, actor=support_user)


# --- database constraints --------------------------------------------------------------
@pytest.mark.parametrize(
    ("changes", "constraint"),
    [
        ({"started_at": T0 + timedelta(minutes=1)}, "started_le_detected"),
        ({"acknowledged_at": T0 - timedelta(minutes=1)}, "detected_le_acknowledged"),
        ({"mitigated_at": T0 + timedelta(hours=2), "resolved_at": T0 + timedelta(hours=1),
          "status": "resolved"}, "mitigated_le_resolved"),
        ({"mitigated_at": T0, "resolved_at": T0 + timedelta(hours=2), "closed_at": T0 + timedelta(hours=1),
          "status": "closed"}, "resolved_le_closed"),
        ({"mitigated_at": T0 - timedelta(hours=1)}, "started_le_mitigated"),
        ({"status": "resolved"}, "resolved_has_timestamps"),
        ({"closed_at": T0 + timedelta(hours=1)}, "closed_iff_closed_at"),
        ({"commander": None, "acknowledged_at": T0 + timedelta(minutes=1)}, "commander_from_ack"),
    ],
)  # fmt: skip
def test_database_constraints(responder, changes, constraint):
    incident = declare(actor=responder, detected_at=T0, commander=responder)
    Incident.objects.filter(pk=incident.pk).update(acknowledged_at=None)
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        Incident.objects.filter(pk=incident.pk).update(**changes)


def test_model_reports_timestamp_errors_for_forms():
    incident = Incident(started_at=T0, detected_at=T0 - timedelta(minutes=1), resolved_at=T0, closed_at=T0)
    assert incident.timestamp_errors() == {
        "detected_at": "Impact cannot start after the incident was detected."
    }


# --- severity changes and paging --------------------------------------------------------
def test_raising_to_paging_severity_pages_once(responder, paging_calls, django_capture_on_commit_callbacks):
    incident = declare(actor=responder, level=3)
    with django_capture_on_commit_callbacks(execute=True):
        services.change_severity(incident=incident, actor=responder, severity=2, reason="Spreading.")
        services.change_severity(incident=incident, actor=responder, severity=1)  # already paging
        services.change_severity(incident=incident, actor=responder, severity=4)
    assert paging_calls == [(incident.pk, "severity_raised", False)]
    texts = list(selectors.timeline(incident).filter(kind="severity_changed").values_list("text", flat=True))
    assert texts == [
        "Severity raised SEV-3 -> SEV-2. Spreading.",
        "Severity raised SEV-2 -> SEV-1.",
        "Severity lowered SEV-1 -> SEV-4.",
    ]
    with pytest.raises(Conflict, match="already SEV-4"):
        services.change_severity(incident=incident, actor=responder, severity=4)


def test_drills_page_marked_as_drill(responder, paging_calls, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        incident = declare(actor=responder, level=1, drill=True)
    assert paging_calls == [(incident.pk, "declared", True)]


def test_quiet_mode_neither_pages_nor_notifies(responder, paging_calls, django_capture_on_commit_callbacks):
    from notifications.models import Notification

    with services.quiet(), django_capture_on_commit_callbacks(execute=True):
        declare(actor=responder, level=1)
    assert paging_calls == []
    assert not Notification.objects.exists()


# --- notifications -------------------------------------------------------------------------
def test_declare_severity_and_resolve_notify_commander_and_team(manager, responder):
    from notifications.models import Notification

    team = TeamFactory(manager=manager, email="payments@example.com")
    svc = ServiceFactory(owner_team=team)
    incident = declare(actor=responder, service=svc, level=2, commander=responder)
    services.change_severity(incident=incident, actor=responder, severity=1)
    services.resolve(incident=incident, actor=responder)
    rows = Notification.objects.order_by("id")
    by_template = {}
    for n in rows:
        by_template.setdefault(n.template, set()).add(n.address)
    # the actor (commander) is not told about their own action; the manager and the list are
    assert set(by_template) == {"incidents/declared", "incidents/severity_changed", "incidents/resolved"}
    for addresses in by_template.values():
        assert addresses == {manager.email, "payments@example.com"}
    declared = rows.filter(template="incidents/declared").first()
    assert declared.subject == f"SEV-2 declared: {incident.reference} Checkout errors"
    assert incident.get_absolute_url() in declared.body
    # the same event never notifies twice
    services._notify(incident, event="declared", key=f"incidents:{incident.pk}:declared", actor=responder)
    assert Notification.objects.filter(template="incidents/declared").count() == 2


# --- updates, customer message, notes, details -----------------------------------------------
def test_post_update_sets_cadence_and_optionally_customer_message(responder):
    with time_machine.travel(T0, tick=False):
        incident = declare(actor=responder, level=2, detected_at=T0)
        assert incident.next_update_due_at() == T0 + timedelta(minutes=60)
    with time_machine.travel(T0 + timedelta(minutes=10), tick=False):
        services.acknowledge(incident=incident, actor=responder)
        incident.refresh_from_db()
        assert incident.next_update_due_at() == T0 + timedelta(minutes=70)
    with time_machine.travel(T0 + timedelta(minutes=40), tick=False):
        services.post_update(incident=incident, actor=responder, audience="internal", text="Rolling back.")
        update = services.post_update(
            incident=incident,
            actor=responder,
            audience="external",
            text="Some payments fail; we are on it.",
            replace_customer_message=True,
        )
    incident.refresh_from_db()
    assert update.status == "investigating"
    assert update.replaced_customer_message
    assert incident.customer_message == "Some payments fail; we are on it."
    assert incident.customer_message_updated_at == T0 + timedelta(minutes=40)
    assert incident.next_update_due_at() == T0 + timedelta(minutes=100)
    assert selectors.update_state(incident, now=T0 + timedelta(minutes=99)) == (
        "due",
        T0 + timedelta(minutes=100),
    )
    assert selectors.update_state(incident, now=T0 + timedelta(minutes=101))[0] == "overdue"
    events = selectors.timeline(incident).filter(kind="status_update")
    assert events.count() == 2
    assert events.last().related_id == update.pk


def test_no_cadence_for_sev3_or_closed(responder):
    incident = declare(actor=responder, level=3)
    assert incident.next_update_due_at() is None
    assert selectors.update_state(incident) == ("none", None)
    incident = declare(actor=responder, level=1)
    services.resolve(incident=incident, actor=responder)
    incident.refresh_from_db()
    assert incident.next_update_due_at() is None


def test_post_update_validation(responder):
    incident = declare(actor=responder)
    with pytest.raises(InvalidInput, match="needs text"):
        services.post_update(incident=incident, actor=responder, audience="internal", text=" ")
    with pytest.raises(InvalidInput, match="Only an external update"):
        services.post_update(
            incident=incident, actor=responder, audience="internal", text="x", replace_customer_message=True
        )
    with pytest.raises(InvalidInput):
        services.post_update(incident=incident, actor=responder, audience="everyone", text="x")
    assert not StatusUpdate.objects.exists()


def test_back_dated_note_sorts_into_place(responder):
    incident = declare(actor=responder, detected_at=T0)
    services.acknowledge(incident=incident, actor=responder, at=T0 + timedelta(minutes=5))
    services.add_note(
        incident=incident, actor=responder, text="Deploy 42 went out", occurred_at=T0 + timedelta(minutes=1)
    )
    assert kinds(incident) == ["declared", "note", "acknowledged"]
    with pytest.raises(InvalidInput, match="in the future"):
        services.add_note(
            incident=incident, actor=responder, text="x", occurred_at=timezone.now() + timedelta(hours=1)
        )


def test_add_timeline_event_for_other_apps(responder):
    incident = declare(actor=responder)
    other = UserFactory()
    event = services.add_timeline_event(
        incident=incident, kind="support_report", text="Acme reports failed payments", related=other
    )
    assert event.related_type.model == "user"
    assert event.related_id == other.pk
    assert event.actor is None
    with pytest.raises(InvalidInput, match="Unknown timeline event kind"):
        services.add_timeline_event(incident=incident, kind="gossip", text="x")


def test_add_timeline_events_checks_each_and_writes_all_or_nothing(responder):
    incident = declare(actor=responder)
    before = TimelineEvent.objects.filter(incident=incident).count()
    earlier = timezone.now() - timedelta(minutes=5)
    good = {"incident": incident, "kind": "support_report", "text": "Acme", "occurred_at": earlier}
    with pytest.raises(InvalidInput, match="needs text"):
        services.add_timeline_events([good, {**good, "text": "  "}])
    assert TimelineEvent.objects.filter(incident=incident).count() == before
    written = services.add_timeline_events([good, {**good, "text": "Globex"}])
    assert [e.text for e in written] == ["Acme", "Globex"]
    assert all(e.pk and e.recorded_at and e.occurred_at == earlier for e in written)
    assert TimelineEvent.objects.filter(incident=incident).count() == before + 2


def test_customer_message_and_reported_customers(responder):
    incident = declare(actor=responder)
    services.set_customer_message(incident=incident, actor=responder, text="We are investigating.")
    assert services.add_reported_customers(incident=incident) == 1
    assert services.add_reported_customers(incident=incident, count=3) == 4
    incident.refresh_from_db()
    assert incident.customer_message == "We are investigating."
    assert incident.reported_customers == 4
    assert selectors.timeline(incident).filter(kind="customer_message").count() == 1
    with pytest.raises(InvalidInput):
        services.add_reported_customers(incident=incident, count=0)


def test_update_incident_edits_details_and_started_at(responder):
    incident = declare(actor=responder, detected_at=T0)
    extra = ServiceFactory(name="Webhooks")
    services.update_incident(
        incident=incident,
        actor=responder,
        title="Checkout down",
        tags="GCP, database, gcp",
        started_at=T0 - timedelta(minutes=15),
        services=[*incident.services.all(), extra],
    )
    incident.refresh_from_db()
    assert incident.title == "Checkout down"
    assert incident.tags == "gcp, database"
    assert incident.tag_list == ["gcp", "database"]
    assert extra in incident.services.all()
    event = selectors.timeline(incident).filter(kind="details_changed").get()
    assert "impact start corrected" in event.text
    assert "Webhooks" in event.text
    with pytest.raises(InvalidInput, match="Impact cannot start after"):
        services.update_incident(incident=incident, actor=responder, started_at=T0 + timedelta(minutes=1))
    with pytest.raises(InvalidInput, match="own actions"):
        services.update_incident(incident=incident, actor=responder, status="closed")


def test_timeline_markdown_export(responder):
    incident = declare(actor=responder, detected_at=T0, title="Checkout | errors")
    services.add_note(
        incident=incident, actor=responder, text="line one\nline two", occurred_at=T0 + timedelta(minutes=1)
    )
    md = selectors.timeline_markdown(incident)
    assert md.startswith(f"# {incident.reference}: Checkout | errors\n")
    assert "| 2026-03-10 14:00 | Declared |" in md
    assert "| 2026-03-10 14:01 | Note | " in md
    assert "line one<br>line two" in md
    assert "- Severity: SEV-2" in md


def test_support_selector_exposes_only_open_real_incidents(responder):
    shown = declare(actor=responder, title="Payments failing")
    services.set_customer_message(incident=shown, actor=responder, text="We know; fix underway.")
    declare(actor=responder, title="Game day", drill=True)
    done = declare(actor=responder, title="Old")
    services.resolve(incident=done, actor=responder)
    rows = selectors.open_incidents_for_support()
    assert [r.title for r in rows] == ["Payments failing"]
    row = rows[0]
    assert row.customer_message == "We know; fix underway."
    assert row.reference == shown.reference
    assert not hasattr(row, "summary")
    assert not hasattr(row, "commander")
    assert selectors.open_incident_for_support(done.pk) is None
