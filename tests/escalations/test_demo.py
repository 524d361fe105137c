import pytest
from django.core.management import call_command
from django.test import override_settings

from accounts.models import User
from escalations.models import Escalation
from incidents.models import TimelineEvent


@pytest.mark.django_db
@override_settings(DEBUG=True)
def test_demo_gives_sam_past_escalations_one_attached_to_an_incident(client):
    call_command("seed_demo")
    call_command("seed_demo")  # idempotent
    sam = User.objects.get(username="sam")
    mine = Escalation.objects.filter(reporter=sam)
    assert mine.count() == 4
    assert not mine.filter(dispatched_at__isnull=True).exists()  # nothing for the auditor to page
    assert set(mine.values_list("status", flat=True)) == {"resolved", "acknowledged", "linked", "new"}
    attached = mine.get(status="linked")
    assert attached.incident.is_open
    assert attached.incident.reported_customers >= 3
    assert TimelineEvent.objects.filter(incident=attached.incident, kind="support_report").count() == 1
    client.force_login(sam)
    body = client.get("/support/").content.decode()
    assert "globex" in body
    assert "acknowledged by" in body
    assert attached.incident.reference in body
