from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from reminders import services
from reminders.models import QuietHours, ReminderLog
from tests.factories import TeamFactory
from tests.reminders.test_sweep import T0, rule  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db


def test_rule_list_preview_and_log_pages(manager_client, rule):  # noqa: F811
    with time_machine.travel(T0, tick=False):
        TeamFactory(name="Nomads", manager=None)
    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        rules = manager_client.get(reverse("admin:reminders_ruleconfig_changelist"))
        assert rules.status_code == 200
        assert b"tests.team_without_manager" in rules.content
        preview = manager_client.get(reverse("admin:reminders_ruleconfig_preview"))
        assert b"Nomads has no manager" in preview.content
        services.sweep()
    log = manager_client.get(reverse("admin:reminders_reminderlog_changelist"))
    assert log.status_code == 200
    assert b"Nomads has no manager" in log.content


@pytest.mark.parametrize("rows", [1, 30])
def test_log_changelist_constant_queries(manager_client, django_assert_num_queries, rows, manager):
    for i in range(rows):
        ReminderLog.objects.create(
            rule="r", object_key=f"o:{i}", due_point=datetime(2026, 1, 1, tzinfo=UTC), recipient_key=f"user:{manager.pk}",
            recipient=manager,
        )  # fmt: skip
    # session, user, user perms, group perms, COUNT (no second full count), page rows with the
    # recipient joined, the date hierarchy's bounds and its days, the rule and stage filters'
    # distinct values - none of them per row
    with django_assert_num_queries(10):
        assert manager_client.get(reverse("admin:reminders_reminderlog_changelist")).status_code == 200


def test_responder_sets_own_quiet_hours_only(client, responder, manager):
    client.force_login(responder)
    response = client.post(
        reverse("admin:reminders_quiethours_add"), {"user": manager.pk, "start": "21:00", "end": "07:00"}
    )
    assert response.status_code == 302, response.content
    assert QuietHours.objects.get().user == responder
    assert client.get(reverse("admin:reminders_ruleconfig_changelist")).status_code == 403
