from types import SimpleNamespace

import pytest

from accounts import demo as accounts_demo
from catalog import demo as catalog_demo
from incidents import demo
from incidents.models import Incident, StatusUpdate, TimelineEvent
from runbooks import demo as runbooks_demo

pytestmark = pytest.mark.django_db


def test_demo_history_is_consistent_and_idempotent(paging_calls, django_capture_on_commit_callbacks):
    from notifications.models import Notification

    ctx = SimpleNamespace(password="pw", logins=[], stdout=None)
    accounts_demo.seed(ctx)
    catalog_demo.seed(ctx)
    runbooks_demo.seed(ctx)
    with django_capture_on_commit_callbacks(execute=True):
        summary = demo.seed(ctx)
    assert "32 incidents" in summary
    assert Incident.objects.count() == 32
    assert set(Incident.objects.values_list("severity__level", flat=True)) == {1, 2, 3, 4}
    assert Incident.objects.filter(drill=True).count() == 2
    open_ones = list(Incident.objects.open())
    assert {i.title for i in open_ones} == {i.title for i in ctx.open_incidents}
    sev2 = ctx.incidents["webhook-delays"]
    assert sev2.severity.level == 2
    assert sev2.customer_message
    assert sev2.is_open
    for incident in Incident.objects.all():
        assert incident.timestamp_errors() == {}
        assert incident.timeline.exists()
    assert StatusUpdate.objects.count() > 20
    assert list(sev2.runbooks.values_list("slug", flat=True)) == ["webhook-delivery-stuck"]
    assert TimelineEvent.objects.filter(kind="runbook").count() == len(demo.RUNBOOKS_USED)
    assert TimelineEvent.objects.filter(kind="note").count() >= 30
    span = Incident.objects.order_by("detected_at")
    assert (span.last().detected_at - span.first().detected_at).days >= 150
    assert paging_calls == []
    assert not Notification.objects.exists()

    counts = (Incident.objects.count(), TimelineEvent.objects.count(), StatusUpdate.objects.count())
    demo.seed(ctx)
    assert (Incident.objects.count(), TimelineEvent.objects.count(), StatusUpdate.objects.count()) == counts
