from types import SimpleNamespace

import pytest

from accounts import demo as accounts_demo
from catalog import demo as catalog_demo
from incidents import demo as incidents_demo
from incidents.models import Incident
from postmortems import demo, selectors, services
from postmortems.models import ActionItem, Postmortem

pytestmark = pytest.mark.django_db


def test_demo_publishes_postmortems_with_a_mix_of_items_and_is_idempotent():
    from notifications.models import Notification

    ctx = SimpleNamespace(password="pw", logins=[], stdout=None)
    accounts_demo.seed(ctx)
    catalog_demo.seed(ctx)
    incidents_demo.seed(ctx)
    summary = demo.seed(ctx)
    assert "postmortems" in summary
    required = Incident.objects.exclude(status__in=Incident.OPEN_STATUSES).filter(
        severity__postmortem_required=True
    )
    assert Postmortem.objects.count() == required.count() >= 10
    published = Postmortem.objects.filter(status="published")
    assert published.count() >= required.count() - 3
    for pm in published:
        assert pm.approved_by_id != pm.owner_id
        assert pm.published_at >= pm.incident.resolved_at
        assert pm.root_cause
        assert "Declared" in pm.timeline
        assert pm.incident.status == "closed"
        assert pm.incident.closed_at >= pm.published_at
    assert Postmortem.objects.exclude(status="published").exists()
    statuses = set(ActionItem.objects.values_list("status", flat=True))
    assert statuses == {"open", "in_progress", "done", "wont_do"}
    today = services.local_today()
    assert selectors.action_items_overdue(today).exists()
    assert ActionItem.objects.unfinished().filter(due_date__gte=today).exists()
    assert not Notification.objects.filter(template__startswith="postmortems/").exists()

    counts = (Postmortem.objects.count(), ActionItem.objects.count())
    assert demo.seed(ctx) == ""
    assert (Postmortem.objects.count(), ActionItem.objects.count()) == counts
