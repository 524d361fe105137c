import pytest
from django.urls import reverse

from runbooks.models import Runbook
from tests.factories import ServiceFactory
from tests.runbooks.factories import RunbookFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def tls():
    service = ServiceFactory(name="TLS certificate manager", slug="tls-manager")
    return RunbookFactory(
        title="TLS certificate renewal", slug="tls-certificate-renewal", services=[service],
        scenarios="Certificate expires in 14 days\nACME order stuck",
        mitigation="1. `tlsctl renew`\n\n<script>alert(1)</script>[x](javascript:alert(2))",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("who", "status"),
    [("manager", 200), ("responder", 200), ("release_lead", 200), ("superuser", 200),
     ("support_user", 403), ("outsider", 403)],
)  # fmt: skip
def test_pages_are_for_staff_only(client, request, tls, who, status):
    client.force_login(request.getfixturevalue(who))
    assert client.get(reverse("runbooks:index")).status_code == status
    assert client.get(reverse("runbooks:detail", args=[tls.slug])).status_code == status


def test_anonymous_is_sent_to_sign_in(client, tls):
    response = client.get(reverse("runbooks:detail", args=[tls.slug]))
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_search_page_shows_service_owner_and_freshness(client, responder, tls):
    RunbookFactory(title="Billing webhook backlog", body="nothing about it")
    client.force_login(responder)
    response = client.get(reverse("runbooks:index"), {"q": "certificate"})
    html = response.content.decode()
    assert "TLS certificate renewal" in html
    assert "Billing webhook backlog" not in html
    assert "TLS certificate manager" in html
    assert tls.owner_team.name in html
    assert "Never tested" in html
    for params in (
        {"q": "x" * 1000},
        {"freshness": "bogus"},
        {"service": "nope"},
        {"page": "zz"},
        {"q": "'\"&|!"},
    ):
        assert client.get(reverse("runbooks:index"), params).status_code == 200


def test_search_page_filters_by_service_and_freshness(client, responder, tls):
    RunbookFactory(title="Other certificate runbook")
    client.force_login(responder)
    html = client.get(
        reverse("runbooks:index"), {"q": "certificate", "service": "tls-manager"}
    ).content.decode()
    assert "TLS certificate renewal" in html
    assert "Other certificate runbook" not in html
    html = client.get(reverse("runbooks:index"), {"freshness": "stale"}).content.decode()
    assert "TLS certificate renewal" not in html


def test_detail_page_renders_sanitised_markdown(client, responder, tls):
    client.force_login(responder)
    html = client.get(reverse("runbooks:detail", args=[tls.slug])).content.decode()
    assert "<code>tlsctl renew</code>" in html
    assert "<script>alert(1)" not in html
    assert "javascript:" not in html
    assert "ACME order stuck" in html
    assert "@media print" in html
    assert "Mark reviewed" in html


def test_release_lead_sees_no_buttons_and_cannot_post(client, release_lead, tls):
    client.force_login(release_lead)
    assert "Mark reviewed" not in client.get(reverse("runbooks:detail", args=[tls.slug])).content.decode()
    assert client.post(reverse("runbooks:review", args=[tls.slug])).status_code == 403
    assert (
        client.post(reverse("runbooks:record-test", args=[tls.slug]), {"evidence_note": "x"}).status_code
        == 403
    )
    assert Runbook.objects.get(pk=tls.pk).last_reviewed_at is None


def test_support_cannot_review(client, support_user, tls):
    client.force_login(support_user)
    assert client.post(reverse("runbooks:review", args=[tls.slug])).status_code == 403
    assert Runbook.objects.get(pk=tls.pk).last_reviewed_at is None


def test_responder_reviews_and_records_a_test_from_the_page(client, responder, tls):
    client.force_login(responder)
    response = client.post(
        reverse("runbooks:review", args=[tls.slug]), {"note": "steps still right"}, follow=True
    )
    assert "Marked reviewed" in response.content.decode()
    tls.refresh_from_db()
    assert tls.reviewed_by == responder
    assert tls.review_note == "steps still right"
    response = client.post(
        reverse("runbooks:record-test", args=[tls.slug]),
        {"evidence_url": "", "evidence_note": ""},
        follow=True,
    )
    assert "Give evidence" in response.content.decode()
    response = client.post(
        reverse("runbooks:record-test", args=[tls.slug]),
        {"evidence_url": "https://wiki.example.com/gameday", "evidence_note": "expired staging cert"},
        follow=True,
    )
    assert "Test recorded" in response.content.decode()
    tls.refresh_from_db()
    assert tls.freshness == Runbook.Freshness.FRESH
    assert client.get(reverse("runbooks:review", args=[tls.slug])).status_code == 405
    assert client.post(reverse("runbooks:review", args=["missing"])).status_code == 404
