"""/support/escalate/ and /support/: filing, every invalid field, attaching to an incident,
the rate limit, CSRF and who may see what."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from escalations.models import Escalation
from incidents.models import Incident, StatusUpdate, TimelineEvent
from notifications.models import Notification
from oncall.models import Page
from tests.conftest import PASSWORD
from tests.escalations.factories import paged_service, run_dispatch
from tests.incidents.factories import declare

pytestmark = pytest.mark.django_db

URL = "/support/escalate/"


def valid(target, **overrides):
    service = target
    data = {
        "incident": "new",
        "customer": "acme-corp",
        "contact": "ops@acme.example",
        "service": str(service.pk) if service is not None else "not-sure",
        "summary": "Checkout shows 'payment failed' for every card.",
        "impact": "blocked",
        "customers_reporting": "2",
        "started_at": "",
        "links": "https://support.example.com/tickets/123\nhttps://files.example.com/shot.png",
    }
    data.update(overrides)
    return data


@pytest.fixture
def service(db):
    return paged_service(name="Checkout")


def test_valid_submit_files_routes_and_pages(support_client, support_user, service):
    with_started = (timezone.now() - timedelta(minutes=30)).astimezone(timezone.get_current_timezone())
    response = support_client.post(URL, valid(service, started_at=with_started.strftime("%Y-%m-%dT%H:%M")))
    assert response.status_code == 302
    assert response["Location"] == "/support/"
    escalation = Escalation.objects.get()
    assert escalation.reporter == support_user
    assert escalation.status == Escalation.Status.NEW
    assert escalation.customers_reporting == 2
    assert escalation.links == [
        "https://support.example.com/tickets/123",
        "https://files.example.com/shot.png",
    ]
    assert abs((escalation.started_at - with_started).total_seconds()) < 60
    # blocked: acknowledge within 15 minutes, and the owning team's on-call is paged (by the
    # worker, once the filing is committed)
    assert escalation.ack_due_at == escalation.created_at + timedelta(minutes=15)
    assert escalation.policy.team == service.owner_team
    assert not Page.objects.exists()
    escalation = run_dispatch(escalation)
    page = Page.objects.get(dedup_key=f"escalations:{escalation.pk}")
    assert escalation.page == page
    assert page.service == service
    assert page.subject == escalation
    assert Notification.objects.filter(kind="page").exists()
    follow = support_client.get("/support/")
    # the confirmation names the team (not the policy) and who is on call
    assert (
        f"{escalation.reference} filed and sent to the {service.owner_team.name} team".encode()
        in follow.content
    )
    assert escalation.policy.name.encode() not in follow.content
    assert b"acme-corp" in follow.content


def test_not_sure_goes_to_the_triage_policy(support_client, service, manager):
    from escalations import services as esc_services
    from oncall.models import EscalationPolicy

    triage = EscalationPolicy.objects.get(team=service.owner_team)
    esc_services.update_settings(actor=manager, triage_policy=triage)
    response = support_client.post(URL, valid(None))
    assert response.status_code == 302
    escalation = run_dispatch(Escalation.objects.get())
    assert escalation.service is None
    assert escalation.policy == triage
    assert escalation.page is not None


def test_question_waits_for_next_business_day_and_tells_the_team(support_client, service):
    response = support_client.post(URL, valid(service, impact="question"))
    assert response.status_code == 302
    escalation = run_dispatch(Escalation.objects.get())
    assert escalation.page is None  # no 3 a.m. page for a question
    assert escalation.ack_due_at > escalation.created_at
    assert escalation.ack_due_at.weekday() < 5
    assert Notification.objects.filter(
        event_key=f"escalations:{escalation.pk}:new", address="team@example.com"
    ).exists()


def test_form_page_lists_open_incidents_with_public_fields(support_client, responder, service):
    incident = declare(actor=responder, level=2, service=service, title="Card payments failing")
    from incidents import services as incident_services

    incident_services.set_customer_message(
        incident=incident, actor=responder, text="We are fixing card payments."
    )
    incident_services.add_note(incident=incident, actor=responder, text="INTERNAL: db failover suspected")
    declare(actor=responder, level=3, service=service, title="Drill only", drill=True)
    response = support_client.get(URL)
    assert response.status_code == 200
    body = response.content.decode()
    assert "Open incidents (1)" in body
    assert incident.reference in body
    assert "Card payments failing" in body
    assert "SEV-2" in body
    assert "Investigating" in body
    assert "Checkout" in body
    assert "We are fixing card payments." in body
    assert "INTERNAL" not in body
    assert "Drill only" not in body
    # labels for every field, grouped services
    for label in (
        "id_customer",
        "id_contact",
        "id_service",
        "id_summary",
        "id_customers_reporting",
        "id_started_at",
    ):
        assert f'for="{label}"' in body
    assert f'<optgroup label="{service.owner_team.name}">' in body
    assert 'value="not-sure"' in body
    assert 'name="csrfmiddlewaretoken"' in body


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("customer", "", "This field is required."),
        ("customer", "x" * 201, "at most 200 characters"),
        ("customer", "nul\x00byte", "Null characters are not allowed."),
        ("contact", "", "This field is required."),
        ("contact", "y" * 201, "at most 200 characters"),
        ("service", "", "Pick the affected service"),
        ("service", "999999", "That service no longer exists"),
        ("service", "abc", "Select a valid choice."),
        # digits to str.isdigit() that int() refuses (superscripts) or reads (other scripts)
        ("service", "\u00b2", "Select a valid choice."),
        ("service", "1\u00b2", "Select a valid choice."),
        ("service", "\u0661", "Select a valid choice."),
        ("service", "\U0001d7d9", "Select a valid choice."),
        ("service", "9" * 30, "Select a valid choice."),
        ("summary", "", "This field is required."),
        ("summary", "   ", "This field is required."),
        ("summary", "z" * 5001, "at most 5000 characters"),
        ("impact", "", "This field is required."),
        ("impact", "catastrophic", "Select a valid choice."),
        ("customers_reporting", "", "This field is required."),
        ("customers_reporting", "0", "greater than or equal to 1"),
        ("customers_reporting", "100001", "less than or equal to 100000"),
        ("customers_reporting", "many", "Enter a whole number."),
        ("started_at", "yesterday-ish", "Enter a valid date/time."),
        ("started_at", "2999-01-01T10:00", "in the future"),
        ("started_at", "2001-01-01T10:00", "more than 90 days ago"),
        ("links", "not a url", "is not a web address"),
        ("links", "ftp://files.example.com/x", "is not a web address"),
        ("links", "\n".join(f"https://e.example.com/{i}" for i in range(11)), "at most 10 links"),
        ("links", "https://e.example.com/" + "a" * 500, "at most 500 characters"),
        ("incident", "424242", "That incident is no longer open"),
        ("incident", "not-an-id", "Select a valid choice."),
        ("incident", "\u00b9", "Select a valid choice."),  # superscript one: isdigit(), not int()
        ("incident", "\u00b2", "Select a valid choice."),
        ("incident", "\u0661", "Select a valid choice."),
        ("incident", "+1", "Select a valid choice."),
        ("incident", " 1", "Select a valid choice."),
    ],
)
def test_every_invalid_field_is_a_field_error(support_client, service, field, value, message):
    response = support_client.post(URL, valid(service, **{field: value}))
    assert response.status_code == 200
    form = response.context["form"]
    assert field in form.errors, form.errors
    assert any(message in e for e in form.errors[field]), form.errors[field]
    assert f'id="id_{field}_error"'.encode() in response.content
    assert b"Please correct the" in response.content
    assert Escalation.objects.count() == 0
    # what the agent typed stays in the form
    if field != "customer":
        assert b"acme-corp" in response.content


def test_attach_to_open_incident(support_client, support_user, responder, service):
    incident = declare(actor=responder, level=2, service=service)
    before = TimelineEvent.objects.filter(incident=incident).count()
    response = support_client.post(
        URL, valid(None, incident=str(incident.pk), service="", customers_reporting="3")
    )
    assert response.status_code == 302
    escalation = Escalation.objects.get()
    assert escalation.status == Escalation.Status.LINKED
    assert escalation.incident == incident
    assert escalation.linked_by == "support"
    assert escalation.page is None  # engineering already knows: nobody is paged again
    incident.refresh_from_db()
    assert incident.reported_customers == 3
    events = TimelineEvent.objects.filter(incident=incident, kind=TimelineEvent.Kind.SUPPORT_REPORT)
    assert TimelineEvent.objects.filter(incident=incident).count() == before + 1
    event = events.get()
    assert "acme-corp" in event.text
    assert event.actor == support_user
    assert event.related_id == escalation.pk
    assert not Page.objects.filter(dedup_key__startswith="escalations:").exists()
    follow = support_client.get("/support/")
    assert f"attached to {incident.reference}".encode() in follow.content


def test_attach_to_an_incident_that_closed_meanwhile_is_a_form_error(support_client, responder, service):
    incident = declare(actor=responder, level=2, service=service)
    from escalations.forms import EscalationForm

    form = EscalationForm(valid(None, incident=str(incident.pk), service=""))
    assert form.is_valid(), form.errors
    from incidents import services as incident_services

    incident_services.resolve(incident=incident, actor=responder)
    assert form.save(reporter=responder) is None
    assert "no longer open" in form.errors["incident"][0]


def test_rate_limit_is_per_user_with_a_friendly_message(client, support_user, settings, service):
    settings.ESCALATIONS_RATE_LIMIT = "3/m"
    client.force_login(support_user)
    for n in range(3):
        assert client.post(URL, valid(service, customer=f"acme-{n}")).status_code == 302
    response = client.post(URL, valid(service))
    assert response.status_code == 429
    assert b"Please wait a minute" in response.content
    assert b"acme-corp" in response.content  # nothing typed is lost
    assert Escalation.objects.count() == 3
    # another agent is not affected
    from accounts import roles
    from tests.factories import UserFactory

    other = UserFactory(username="support2", roles=[roles.SUPPORT])
    client.force_login(other)
    assert client.post(URL, valid(service)).status_code == 302


def test_csrf_is_enforced(support_user, service):
    client = Client(enforce_csrf_checks=True)
    client.force_login(support_user)
    assert client.post(URL, valid(service)).status_code == 403
    page = client.get(URL)
    token = page.context["csrf_token"]
    assert client.post(URL, {**valid(service), "csrfmiddlewaretoken": str(token)}).status_code == 302


@pytest.mark.parametrize(
    "actor", ["manager", "responder", "support_user", "release_lead", "outsider", "superuser"]
)
def test_who_may_use_the_support_pages(client, request, actor):
    user = request.getfixturevalue(actor)
    client.force_login(user)
    expected = 403 if actor == "outsider" else 200
    assert client.get(URL).status_code == expected
    assert client.get("/support/").status_code == expected


def test_outsider_cannot_post_either(client, outsider, service):
    client.force_login(outsider)
    assert client.post(URL, valid(service)).status_code == 403
    assert Escalation.objects.count() == 0


def test_anonymous_goes_to_login(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_support_cannot_open_incident_admin_pages(support_client, responder, service):
    incident = declare(actor=responder, level=2, service=service)
    for url in (
        reverse("admin:incidents_incident_change", args=[incident.pk]),
        reverse("admin:incidents_incident_changelist"),
        reverse("admin:escalations_escalation_changelist"),
    ):
        response = support_client.get(url)
        assert response.status_code == 403, url
        assert b"Your account does not use the admin." in response.content


def test_support_lands_on_their_page_and_has_the_nav_link(client, support_user):
    response = client.post("/accounts/login/", {"username": "support", "password": PASSWORD}, follow=True)
    assert response.redirect_chain[-1][0] == "/support/"
    assert b'href="/support/">Support</a>' in response.content
    assert b'href="/services/">Service directory</a>' in response.content


def test_support_sees_only_their_own_escalations(client, support_user, service):
    from accounts import roles
    from tests.escalations.factories import file
    from tests.factories import UserFactory

    other = UserFactory(username="tess", roles=[roles.SUPPORT])
    file(support_user, service=service, customer="mine-inc")
    file(other, service=service, customer="theirs-llc")
    client.force_login(support_user)
    body = client.get("/support/").content.decode()
    assert "mine-inc" in body
    assert "theirs-llc" not in body


def test_support_page_shows_ack_reply_and_incident_message(client, support_user, responder, service):
    from escalations import services
    from incidents import services as incident_services
    from tests.escalations.factories import file

    acked = file(support_user, service=service, customer="acked-co")
    services.acknowledge(escalation=acked, actor=responder)
    resolved = file(support_user, service=service, customer="resolved-co", impact="degraded")
    services.resolve(escalation=resolved, actor=responder, reply="Fixed by clearing the customer's cache.")
    linked = file(support_user, service=service, customer="linked-co", impact="degraded")
    incident = services.open_incident(escalation=linked, actor=responder)
    incident_services.set_customer_message(incident=incident, actor=responder, text="Payments are delayed.")
    incident_services.post_update(
        incident=incident, actor=responder, audience=StatusUpdate.Audience.EXTERNAL, text="Fix rolling out."
    )
    incident_services.post_update(
        incident=incident,
        actor=responder,
        audience=StatusUpdate.Audience.INTERNAL,
        text="SECRET internal note",
    )
    client.force_login(support_user)
    response = client.get("/support/")
    body = response.content.decode()
    assert f"acknowledged by {responder}" in body
    assert "Fixed by clearing the customer&#x27;s cache." in body
    assert f"Linked to {incident.reference}" in body
    assert "Payments are delayed." in body
    assert "Fix rolling out." in body
    assert "SECRET" not in body
    assert Incident.objects.count() == 1


def test_support_page_query_count_is_constant(client, support_user, responder, service):
    from escalations import services
    from escalations.models import SupportSettings
    from tests.escalations.factories import file

    SupportSettings.load()
    SupportSettings.objects.filter(pk=1).update(surge_threshold=1000)
    other = paged_service(name="Search")

    client.force_login(support_user)
    client.get("/support/")

    def count():
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/support/").status_code == 200
        return len(ctx.captured_queries)

    # session, user, role groups, COUNT for the paginator, the page of rows (with service,
    # acknowledger, incident joined), open incidents, their services, latest external
    # updates, the nav's permissions: the same for 1 row as for 7.
    services.open_incident(escalation=file(support_user, service=service), actor=responder)
    one = count()
    for n in range(6):  # half attached to the open incident on the service, half new elsewhere
        file(support_user, service=service if n % 2 else other, customer=f"c{n}", impact="question")
    assert count() == one


def test_unrouted_escalation_is_kept_and_says_so(support_client):
    from tests.factories import ServiceFactory

    lonely = ServiceFactory(name="Legacy reports")  # its team has no escalation policy
    response = support_client.post(URL, valid(lonely), follow=True)
    assert response.status_code == 200
    assert b"No on-call policy covers it yet" in response.content
    escalation = Escalation.objects.get()
    assert escalation.policy is None
    assert escalation.page is None


def test_escalation_change_page_is_read_only(client, responder, support_user, service):
    from tests.escalations.factories import file

    escalation = file(support_user, service=service)
    client.force_login(responder)
    url = reverse("admin:escalations_escalation_change", args=[escalation.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    client.post(url, {"customer": "changed"})
    escalation.refresh_from_db()
    assert escalation.customer == "acme-corp"
