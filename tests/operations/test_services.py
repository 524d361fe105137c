"""Services: creating duties, check-ins resetting the clock, reassigning, permissions, races."""

import threading
from datetime import UTC, date, datetime, time, timedelta

import pytest
import time_machine
from django.db import connection

from operations import services
from operations.models import CheckIn, Health, Responsibility
from opsportal.errors import Conflict, InvalidInput, NotAllowed
from tests.factories import TeamFactory, UserFactory
from tests.operations.factories import ResponsibilityFactory

FRI = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)  # first due point of the factory's weekly duty
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # the Wednesday before


@pytest.fixture
def duty(db):
    with time_machine.travel(NOW, tick=False):
        return ResponsibilityFactory()


@pytest.mark.django_db
def test_a_new_duty_is_due_at_its_first_due_point_with_a_due_soon_window(duty):
    assert duty.next_due_at == FRI
    assert duty.tracking_since == FRI
    assert duty.due_soon_at == FRI - timedelta(days=1)  # weekly default
    assert duty.health_at(NOW) == Health.ON_TRACK
    assert duty.health_at(FRI - timedelta(hours=1)) == Health.DUE_SOON
    assert duty.health_at(FRI + timedelta(seconds=1)) == Health.OVERDUE
    assert duty.history.count() == 1


@pytest.mark.django_db
def test_check_in_resets_the_clock_and_is_recorded_with_history(duty):
    with time_machine.travel(FRI - timedelta(hours=3), tick=False):
        entry = services.check_in(
            responsibility=duty,
            actor=duty.owner,
            note="Triaged 4 alerts",
            evidence_url="https://jira.example.com/B-1",
        )
    duty.refresh_from_db()
    assert (entry.covers_due_at, entry.late, entry.missed_before) == (FRI, False, 0)
    assert duty.next_due_at == FRI + timedelta(weeks=1)
    assert duty.health_at(FRI + timedelta(hours=1)) == Health.ON_TRACK
    latest = duty.history.latest()
    assert latest.history_change_reason.startswith("Checked in by")
    assert latest.history_user == duty.owner
    assert entry.history.count() == 1


@pytest.mark.django_db
def test_late_check_in_records_the_missed_cycles(duty):
    with time_machine.travel(FRI + timedelta(weeks=2, days=1), tick=False):
        entry = services.check_in(responsibility=duty, actor=duty.backup)
    duty.refresh_from_db()
    assert entry.late
    assert entry.missed_before == 2
    assert entry.covers_due_at == FRI + timedelta(weeks=2)
    assert duty.next_due_at == FRI + timedelta(weeks=3)


@pytest.mark.django_db
def test_second_check_in_in_the_same_cycle_is_a_conflict(duty):
    with time_machine.travel(FRI - timedelta(hours=3), tick=False):
        services.check_in(responsibility=duty, actor=duty.owner)
        with pytest.raises(Conflict, match="already done"):
            services.check_in(responsibility=duty, actor=duty.owner)
    assert CheckIn.objects.count() == 1


@pytest.mark.django_db
def test_check_in_input_is_validated(duty):
    with time_machine.travel(NOW, tick=False):
        with pytest.raises(InvalidInput) as exc:
            services.check_in(responsibility=duty, actor=duty.owner, done_at=NOW + timedelta(hours=1))
        assert exc.value.field == "done_at"
        with pytest.raises(InvalidInput) as exc:
            services.check_in(responsibility=duty, actor=duty.owner, evidence_url="javascript:alert(1)")
        assert exc.value.field == "evidence_url"
        services.check_in(responsibility=duty, actor=duty.owner)
        with pytest.raises(InvalidInput, match="earlier than the last"):
            services.check_in(responsibility=duty, actor=duty.owner, done_at=NOW - timedelta(days=1))


@pytest.mark.django_db
def test_who_may_check_in(duty, manager, responder, support_user, outsider):
    with time_machine.travel(NOW, tick=False):
        for person in (responder, support_user, outsider):
            with pytest.raises(NotAllowed):
                services.check_in(responsibility=duty, actor=person)
        services.check_in(responsibility=duty, actor=manager)
    with time_machine.travel(FRI + timedelta(hours=1), tick=False):
        services.check_in(responsibility=duty, actor=duty.team.manager)  # the team's manager
    assert CheckIn.objects.count() == 2


@pytest.mark.django_db
def test_retired_duty_cannot_be_checked_in_and_reactivation_starts_fresh(duty, manager):
    services.set_active(responsibility=duty, actor=manager, active=False)
    with time_machine.travel(FRI + timedelta(weeks=5), tick=False):
        with pytest.raises(Conflict, match="retired"):
            services.check_in(responsibility=duty, actor=duty.owner)
        services.set_active(responsibility=duty, actor=manager, active=True)
    duty.refresh_from_db()
    assert duty.next_due_at == FRI + timedelta(weeks=6)


@pytest.mark.django_db
def test_reassign(duty, manager, responder):
    newcomer = UserFactory()
    with pytest.raises(NotAllowed):
        services.reassign(responsibility=duty, actor=responder, owner=newcomer)
    services.reassign(responsibility=duty, actor=manager, owner=newcomer)
    duty.refresh_from_db()
    assert duty.owner == newcomer
    assert duty.history.latest().history_change_reason == f"Reassigned by {manager}"
    # the backup becoming owner frees the backup seat
    old_backup = duty.backup
    services.reassign(responsibility=duty, actor=manager, owner=old_backup)
    duty.refresh_from_db()
    assert (duty.owner, duty.backup) == (old_backup, None)
    with pytest.raises(InvalidInput, match="other than the owner"):
        services.reassign(responsibility=duty, actor=manager, owner=newcomer, backup=newcomer)
    gone = UserFactory(is_active=False)
    with pytest.raises(InvalidInput, match="deactivated"):
        services.reassign(responsibility=duty, actor=manager, owner=gone)


@pytest.mark.django_db
def test_team_manager_may_reassign_their_own_teams_duties_only(duty):
    lead = duty.team.manager
    services.reassign(responsibility=duty, actor=lead, owner=None)
    other = ResponsibilityFactory()
    with pytest.raises(NotAllowed):
        services.reassign(responsibility=other, actor=lead, owner=None)


@pytest.mark.django_db
def test_cadence_change_restarts_tracking_after_the_last_check_in(duty, manager):
    with time_machine.travel(FRI - timedelta(hours=1), tick=False):
        services.check_in(responsibility=duty, actor=duty.owner)
    duty.cadence = Responsibility.Cadence.MONTHLY
    duty.first_due_on = date(2026, 12, 31)
    with time_machine.travel(FRI + timedelta(days=1), tick=False):
        services.save_responsibility(actor=manager, responsibility=duty)
    duty.refresh_from_db()
    assert duty.next_due_at == datetime(2026, 12, 31, 9, 0, tzinfo=UTC)
    assert duty.tracking_since == duty.next_due_at
    assert duty.history.latest().history_change_reason == "Cadence changed"
    # an edit that does not touch the cadence keeps the clock
    duty.definition_of_done = "Something else"
    services.save_responsibility(actor=manager, responsibility=duty)
    duty.refresh_from_db()
    assert duty.next_due_at == datetime(2026, 12, 31, 9, 0, tzinfo=UTC)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"cadence": "cron", "cron_expression": "every monday"}, "cron_expression"),
        ({"cadence": "cron", "cron_expression": "*/5 * * * *"}, "cron_expression"),
        ({"time_zone": "Nowhere/City"}, "time_zone"),
        ({"area": "other", "area_other": ""}, "area_other"),
        ({"remind_before": timedelta(hours=-1)}, "remind_before"),
    ],
)
def test_invalid_duties_are_refused_with_a_field(fields, field, manager):
    team = TeamFactory()
    base = {
        "title": "X", "area": "incident_triage", "definition_of_done": "d", "team": team,
        "cadence": "weekly", "first_due_on": date(2026, 12, 1), "due_time": time(9, 0), "time_zone": "UTC",
    }  # fmt: skip
    with pytest.raises(InvalidInput) as exc:
        services.save_responsibility(actor=manager, **{**base, **fields})
    assert exc.value.field == field


@pytest.mark.django_db
def test_other_area_is_free_text_and_duplicate_titles_are_refused(manager):
    team = TeamFactory()
    duty = ResponsibilityFactory(team=team, title="Cost review", area="other", area_other="FinOps")
    assert duty.area_label == "FinOps"
    with pytest.raises(InvalidInput, match="already has a duty"):
        ResponsibilityFactory(team=team, title="Cost review")


@pytest.mark.django_db
def test_cron_duty_in_a_zone(manager):
    with time_machine.travel(datetime(2026, 11, 25, 12, 0, tzinfo=UTC), tick=False):
        duty = ResponsibilityFactory(
            cadence="cron",
            cron_expression="0 10 * * 1-5",
            time_zone="Asia/Kolkata",
            first_due_on=date(2026, 11, 26),
        )
    assert duty.next_due_at == datetime(2026, 11, 26, 4, 30, tzinfo=UTC)


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_two_people_checking_in_at_once_count_once():
    with time_machine.travel(NOW, tick=False):
        duty = ResponsibilityFactory()
    barrier = threading.Barrier(2)
    results = []

    def worker(person):
        try:
            barrier.wait(timeout=60)
            services.check_in(responsibility=duty, actor=person)
            results.append("ok")
        except Conflict:
            results.append("conflict")
        except Exception as exc:  # any other error fails the assertion below, with its repr
            results.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(p,)) for p in (duty.owner, duty.backup)]
    # Both check in on the Wednesday before the first due point: the first covers it, the
    # second is early for the next cycle. (On the real clock, weeks later, both could count.)
    with time_machine.travel(NOW, tick=True):
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert sorted(results) == ["conflict", "ok"]
    assert CheckIn.objects.filter(responsibility=duty).count() == 1
    duty.refresh_from_db()
    assert duty.next_due_at > FRI
