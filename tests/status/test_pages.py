"""Public pages: anonymous, cached with Cache-Control, refreshed on change; feeds parse;
summary.json in a Statuspage-like shape."""

import feedparser
import pytest
from django.test import override_settings
from django.urls import reverse

from incidents import services as incidents
from status.models import PublicIncident
from tests.status.factories import component
from tests.status.factories import declare_public as declare

pytestmark = pytest.mark.django_db


@pytest.fixture
def open_incident(manager, django_capture_on_commit_callbacks):
    api = component(name="Public API", group="API")
    with django_capture_on_commit_callbacks(execute=True):
        incident = declare(actor=manager, level=2, service=api.service, title="Elevated API errors")
        incidents.post_update(
            incident=incident, actor=manager, audience="external", text="We are investigating API errors."
        )
    return incident


def test_index_is_public_cacheable_and_shows_external_update(client, open_incident):
    response = client.get("/status/")
    assert response.status_code == 200
    assert response["Cache-Control"] == "public, max-age=0, s-maxage=30"
    assert client.get("/status/api/summary.json")["Cache-Control"] == "public, max-age=30"
    html = response.content.decode()
    assert "Partial system outage" in html
    assert "Elevated API errors" in html
    assert "We are investigating API errors." in html
    assert 'data-status="partial_outage"' in html
    assert "Set-Cookie" not in response.headers


def test_page_is_served_from_cache_until_a_change_signal(
    client, manager, open_incident, django_assert_num_queries, django_capture_on_commit_callbacks
):
    client.get("/status/")
    with django_assert_num_queries(0):  # the cached snapshot: no database at all
        assert client.get("/status/").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        incidents.resolve(incident=open_incident, actor=manager)
    assert "All systems operational" in client.get("/status/").content.decode()


def test_disabled_setting_hides_every_public_url(client, open_incident):
    with override_settings(STATUS_PAGE_ENABLED=False):
        for url in ["/status/", "/status/api/summary.json", "/status/feed.atom", "/status/subscribe/"]:
            assert client.get(url).status_code == 404, url


def test_incident_page_by_public_id_only(client, open_incident):
    record = PublicIncident.objects.get(incident=open_incident)
    assert len(record.public_id) >= 16
    page = client.get(f"/status/incidents/{record.public_id}/")
    assert page.status_code == 200
    assert "We are investigating API errors." in page.content.decode()
    assert client.get("/status/incidents/AAAAAAAAAAAAAAAA/").status_code == 404
    assert client.get(f"/status/incidents/{open_incident.pk:08d}/").status_code == 404


def test_history_archive_by_month(client, open_incident):
    month = open_incident.started_at
    page = client.get(reverse("status:history_month", args=[month.year, month.month]))
    assert page.status_code == 200
    assert "Elevated API errors" in page.content.decode()
    assert client.get("/status/history/").status_code == 200
    assert client.get("/status/history/2001/13/").status_code == 404
    assert client.get("/status/history/9999/1/").status_code == 404


@pytest.mark.parametrize("url", ["/status/feed.atom", "/status/feed.rss"])
def test_feeds_parse(client, open_incident, url):
    response = client.get(url)
    assert response.status_code == 200
    feed = feedparser.parse(response.content)
    assert not feed.bozo, feed.bozo_exception
    assert len(feed.entries) == 1
    entry = feed.entries[0]
    assert entry.title == "Elevated API errors - Investigating"
    assert "We are investigating API errors." in entry.summary
    record = PublicIncident.objects.get(incident=open_incident)
    assert record.public_id in entry.link


def test_summary_json_statuspage_shape(client, open_incident):
    response = client.get("/status/api/summary.json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    data = response.json()
    assert set(data) == {"page", "status", "components", "incidents", "scheduled_maintenances"}
    assert data["status"] == {"indicator": "major", "description": "Partial system outage"}
    (comp,) = data["components"]
    assert comp["name"] == "Public API"
    assert comp["status"] == "partial_outage"
    assert comp["group_name"] == "API"
    (inc,) = data["incidents"]
    assert inc["name"] == "Elevated API errors"
    assert inc["impact"] == "major"
    assert inc["status"] == "investigating"
    assert [u["body"] for u in inc["incident_updates"]] == ["We are investigating API errors."]
    assert inc["shortlink"].endswith(f"/status/incidents/{inc['id']}/")


def test_gzip_served_when_accepted(client, open_incident):
    import gzip

    plain = client.get("/status/")
    packed = client.get("/status/", HTTP_ACCEPT_ENCODING="gzip, deflate")
    assert packed["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed["Vary"]
    assert gzip.decompress(packed.content) == plain.content
    assert len(packed.content) < len(plain.content)
