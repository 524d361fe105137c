from types import SimpleNamespace

import pytest

from accounts import demo as accounts_demo
from catalog import demo as catalog_demo
from incidents import demo as incidents_demo
from runbooks import demo as runbooks_demo
from status import demo
from status.models import Component

pytestmark = pytest.mark.django_db


def test_demo_publishes_tier1_services_and_shows_the_open_incident(
    client, django_capture_on_commit_callbacks
):
    ctx = SimpleNamespace(password="pw", logins=[], stdout=None)
    accounts_demo.seed(ctx)
    catalog_demo.seed(ctx)
    runbooks_demo.seed(ctx)
    with django_capture_on_commit_callbacks(execute=True):
        incidents_demo.seed(ctx)
        demo.seed(ctx)
        again = demo.seed(ctx)  # idempotent
    tier1 = {s.pk for s in ctx.services.values() if s.tier == "tier-1"}
    assert set(Component.objects.values_list("service_id", flat=True)) == tier1
    assert "(0 new)" in again
    assert {"Billing", "Dashboard", "Integrations"} <= set(Component.objects.values_list("group", flat=True))

    page = client.get("/status/").content.decode()
    sev2 = ctx.incidents["webhook-delays"]
    assert "Delayed webhook deliveries" in page  # the public title a person wrote
    assert sev2.title not in page  # never the internal one
    assert ctx.incidents["search-latency"].title not in page  # not published: nothing shows
    assert sev2.customer_message.splitlines()[0][:40] in page
    assert "Partial outage" in page
