"""Nothing internal on any public URL or feed: internal updates, roles (commander names),
internal links and channels, non-public services, drills and "not public" incidents."""

import re

import pytest
from django.urls import reverse

from incidents import services as incidents
from notifications.models import Notification
from status import services
from status.models import PublicIncident
from tests.factories import ServiceFactory, UserFactory
from tests.status.factories import component
from tests.status.factories import declare_public as declare

pytestmark = pytest.mark.django_db

SECRETS = [
    "Zebulon",  # commander first name
    "Quuxworth",  # commander last name
    "zquux",  # commander username
    "chat.internal.example",  # channel link
    "INTERNAL-NOTE-7781",  # internal status update
    "TIMELINE-NOTE-5512",  # timeline note
    "HiddenComponentName",  # non-public component
    "secret-backend-svc",  # catalog service names are never shown (components have public names)
    "Secret Backend Service",
    "DRILL-TITLE-4242",
    "DRILL-EXTERNAL-4242",
    "HIDDEN-TITLE-9090",
    "HIDDEN-EXTERNAL-9090",
    "ONLY-PRIVATE-SVC-3131",
    "CUSTOMER-IMPACT-INTERNAL",
    "INC-",  # internal incident references
]


@pytest.fixture
def world(manager, django_capture_on_commit_callbacks):
    commander = UserFactory(
        username="zquux", first_name="Zebulon", last_name="Quuxworth", roles=["Responders"]
    )
    public = component(name="Checkout", group="Web")
    hidden_svc = ServiceFactory(name="Secret Backend Service", slug="secret-backend-svc")
    component(name="HiddenComponentName", public=False, service=hidden_svc)
    with django_capture_on_commit_callbacks(execute=True):
        live = declare(
            actor=manager,
            level=2,
            service=public.service,
            title="Checkout is failing",
            channel_url="https://chat.internal.example/c/inc",
            customer_impact="CUSTOMER-IMPACT-INTERNAL",
        )
        live.services.add(hidden_svc)
        incidents.assign_role(incident=live, actor=manager, role="commander", user=commander)
        incidents.post_update(incident=live, actor=commander, audience="internal", text="INTERNAL-NOTE-7781")
        incidents.add_note(incident=live, actor=commander, text="TIMELINE-NOTE-5512")
        incidents.post_update(
            incident=live,
            actor=commander,
            audience="external",
            text="Payments are failing for some customers.",
            replace_customer_message=True,
        )
        drill = declare(actor=manager, level=1, service=public.service, title="DRILL-TITLE-4242", drill=True)
        incidents.post_update(incident=drill, actor=manager, audience="external", text="DRILL-EXTERNAL-4242")
        hidden = declare(actor=manager, level=1, service=public.service, title="HIDDEN-TITLE-9090")
        incidents.post_update(
            incident=hidden, actor=manager, audience="external", text="HIDDEN-EXTERNAL-9090"
        )
        services.set_incident_public(incident=hidden, actor=manager, public=False)
        private_only = declare(actor=manager, level=1, service=hidden_svc, title="ONLY-PRIVATE-SVC-3131")
        incidents.post_update(
            incident=private_only, actor=manager, audience="external", text="ONLY-PRIVATE-SVC-3131"
        )
        resolved = declare(actor=manager, level=3, service=public.service, title="Slow dashboard")
        incidents.post_update(
            incident=resolved, actor=manager, audience="external", text="Dashboards are slow."
        )
        incidents.resolve(incident=resolved, actor=manager)
    services.ensure_public_incidents(incident_ids=[drill.pk, hidden.pk, private_only.pk])
    return {
        "live": live,
        "drill": drill,
        "hidden": hidden,
        "private_only": private_only,
        "resolved": resolved,
    }


def public_urls(world) -> list[str]:
    month = world["live"].started_at
    urls = [
        "/status/",
        "/status/api/summary.json",
        "/status/feed.atom",
        "/status/feed.rss",
        "/status/history/",
        reverse("status:history_month", args=[month.year, month.month]),
        "/status/subscribe/",
    ]
    for key in ("live", "resolved"):
        urls.append(f"/status/incidents/{PublicIncident.objects.get(incident=world[key]).public_id}/")
    return urls


def assert_clean(text: str, where: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} leaked on {where}"
    assert not re.search(r"/admin/", text), f"admin link leaked on {where}"


def test_no_internal_data_on_any_public_url(client, world):
    for url in public_urls(world):
        response = client.get(url)
        assert response.status_code == 200, url
        text = response.content.decode()
        assert_clean(text, url)
    # ... while the public content is really there (the test can fail).
    page = client.get("/status/").content.decode()
    assert "Payments are failing for some customers." in page
    assert "Checkout is failing" in page
    assert "Dashboards are slow." in client.get(public_urls(world)[-1]).content.decode()


def test_hidden_incidents_have_no_public_page(client, world):
    for key in ("drill", "hidden", "private_only"):
        public_id = PublicIncident.objects.get(incident=world[key]).public_id
        assert client.get(f"/status/incidents/{public_id}/").status_code == 404, key


def test_subscriber_mail_carries_only_external_text(client, manager, world):
    services.request_subscription(email="cust@example.com")
    from status.models import Subscriber

    sub = Subscriber.objects.get()
    services.confirm_subscription(token=services.make_token(sub, "confirm"))
    services.dispatch_pending()
    mails = list(Notification.objects.filter(address="cust@example.com", template="status/update"))
    assert [m.body.count("Payments are failing") for m in mails if "Payments" in m.body] == [1]
    for mail in mails:
        assert_clean(mail.subject + mail.body, f"mail {mail.subject}")
