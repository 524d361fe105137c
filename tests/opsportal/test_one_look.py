"""One look (issue 21, part 3): one date/time format in the viewer's zone with a relative hint,
the profile page that sets the zone, the admin's date cells in the same format, the design
system's partials and tags, and the one stylesheet on every kind of page."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.template import Context, Template
from django.utils import timezone

from opsportal import timeutil
from opsportal.templatetags.ops_ui import when_html, when_text
from tests.conftest import PASSWORD

NOW = datetime(2026, 12, 6, 13, 14, tzinfo=UTC)  # 14:14 in Berlin (CET)
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize(
    ("delta", "hint"),
    [
        (timedelta(seconds=-10), "just now"),
        (timedelta(minutes=-12), "12 min ago"),
        (timedelta(minutes=-59), "59 min ago"),
        (timedelta(hours=-2, minutes=-5), "2 h 5 min ago"),
        (timedelta(hours=-9, minutes=-5), "9 h ago"),
        (timedelta(days=-1), "1 day ago"),
        (timedelta(days=-4, hours=-3), "4 days ago"),
        (timedelta(days=-21), "3 weeks ago"),
        (timedelta(days=-90), ""),
        (timedelta(minutes=12), "in 12 min"),
        (timedelta(hours=1, minutes=58), "in 1 h 58 min"),
    ],
)
def test_relative_hint(delta, hint):
    assert timeutil.relative_hint(NOW + delta, NOW) == hint


@pytest.mark.parametrize(
    ("instant", "label"),
    [
        (datetime(2026, 12, 6, 13, 2, tzinfo=UTC), "14:02 CET"),
        (datetime(2026, 12, 4, 8, 30, tzinfo=UTC), "Fri 4 Dec 09:30 CET"),
        (datetime(2026, 7, 4, 8, 30, tzinfo=UTC), "Sat 4 Jul 10:30 CEST"),
        (datetime(2025, 12, 4, 8, 30, tzinfo=UTC), "4 Dec 2025 09:30 CET"),
    ],
)
def test_absolute_label_in_the_viewers_zone(instant, label):
    assert timeutil.absolute_label(instant, NOW, BERLIN) == label


def test_today_is_the_viewers_today_not_utcs():
    # 23:30 UTC on the 6th is already the 7th in Tokyo: "today" there, a date in Berlin
    late = datetime(2026, 12, 6, 23, 30, tzinfo=UTC)
    now = datetime(2026, 12, 6, 23, 40, tzinfo=UTC)
    assert timeutil.absolute_label(late, now, ZoneInfo("Asia/Tokyo")) == "08:30 JST"
    assert timeutil.absolute_label(late, now, BERLIN) == "00:30 CET"


@time_machine.travel(NOW, tick=False)
def test_the_when_filter_renders_one_time_element_in_the_active_zone():
    with timezone.override(BERLIN):
        html = when_html(NOW - timedelta(minutes=12))
        text = Template("{% load ops_ui %}{{ t|when_text }}").render(
            Context({"t": NOW - timedelta(minutes=12)})
        )
        overdue = Template('{% load ops_ui %}{{ t|when:"overdue" }}').render(
            Context({"t": NOW - timedelta(minutes=1)})
        )
    assert html == (
        '<time class="ops-when" datetime="2026-12-06T13:02:00+00:00" '
        'title="Sunday 6 December 2026, 14:02:00 CET (Europe/Berlin)">14:02 CET'
        '<span class="ops-rel">, 12 min ago</span></time>'
    )
    assert text == "14:02 CET, 12 min ago"
    assert 'class="ops-when ops-overdue"' in overdue
    assert when_html(None) == ""
    assert when_text("") == ""


@pytest.mark.django_db
def test_the_viewers_profile_zone_is_active_on_every_request(client, responder):
    responder.time_zone = "Asia/Kolkata"
    responder.save(update_fields=["time_zone"])
    client.force_login(responder)
    body = client.get("/accounts/profile/").content.decode()
    assert "IST" in body.split('id="profile-now"')[1][:400]
    assert timezone.get_current_timezone_name() == "UTC"  # deactivated after the request


@pytest.mark.django_db
def test_profile_page_sets_the_zone_and_refuses_nonsense(client, responder):
    client.force_login(responder)
    page = client.get("/accounts/profile/")
    assert page.status_code == 200
    assert 'value="Europe/Berlin"' in page.content.decode()
    bad = client.post("/accounts/profile/", {"time_zone": "Mars/Olympus", "first_name": "R"})
    assert bad.status_code == 200
    assert "Select a valid choice" in bad.content.decode()
    responder.refresh_from_db()
    assert responder.time_zone != "Mars/Olympus"
    ok = client.post(
        "/accounts/profile/", {"time_zone": "America/New_York", "first_name": "Ravi", "last_name": "I"}
    )
    assert ok.status_code == 302
    responder.refresh_from_db()
    assert (responder.time_zone, responder.first_name) == ("America/New_York", "Ravi")
    assert "Times are now shown in America/New_York" in client.get("/accounts/profile/").content.decode()


@pytest.mark.django_db
def test_profile_needs_sign_in(client):
    response = client.get("/accounts/profile/")
    assert response.status_code == 302
    assert "/login/" in response["Location"]


@pytest.mark.django_db
def test_admin_date_cells_use_the_one_format(client, admin_user):
    from oncall.services import create_feed

    admin_user.time_zone = "Europe/Berlin"
    admin_user.save(update_fields=["time_zone"])
    client.force_login(admin_user)
    create_feed(user=admin_user, actor=admin_user)
    body = client.get("/admin/oncall/calendarfeed/").content.decode()
    cell = body.split('class="field-created_at')[1].split("</td>")[0]
    assert '<time class="ops-when"' in cell
    assert "CET" in cell or "CEST" in cell
    assert "just now" in cell


@pytest.mark.django_db
def test_every_kind_of_page_loads_the_one_stylesheet_and_the_favicon(client, responder):
    pages = ["/accounts/login/", "/status/"]
    for path in pages:
        body = client.get(path).content.decode()
        assert "/static/opsportal/ops.css" in body, path
        assert "/static/opsportal/favicon.svg" in body, path
        assert "/static/opsportal/theme.js" in body, path
        assert "site.css" not in body
    client.force_login(responder)
    for path in ["/admin/", "/runbooks/", "/operating-model/"]:
        body = client.get(path).content.decode()
        assert "/static/opsportal/ops.css" in body, path
        assert "/static/opsportal/favicon.svg" in body, path


def test_partials_render_through_the_tags():
    html = Template(
        '{% load ops_ui %}{% badge "SEV-1" "red" %}|{% badge "x" "nope" %}|'
        '{% button "Go" href="/x" kind="secondary small" %}|{% button "Sign off" disabled=True aria_describedby="r" %}|'
        '{% card "Title" id="c" tone="red" aside="3 open" %}<p>body</p>{% endcard %}'
    ).render(Context({}))
    badge, grey, link, disabled, card = html.split("|")
    assert badge.strip() == '<span class="op-badge op-badge-red">SEV-1</span>'
    assert "op-badge-grey" in grey
    assert link.strip() == '<a class="ops-btn ops-btn-secondary ops-btn-small" href="/x">Go</a>'
    assert (
        disabled.strip()
        == '<button class="ops-btn" type="submit" disabled aria-describedby="r">Sign off</button>'
    )
    assert 'class="ops-card ops-card-tone-red" id="c"' in card
    assert "<h2>Title</h2>" in card
    assert "3 open" in card
    assert "<p>body</p>" in card


def test_ops_table_marks_secondary_columns_and_offers_the_toggle():
    html = Template('{% load ops_ui %}{% ops_table columns rows id="t" %}').render(
        Context(
            {
                "columns": ["Name", {"label": "Owner", "secondary": True}, {"label": "Count", "num": True}],
                "rows": [["a", "b", 3]],
            }
        )
    )
    assert 'class="ops-table-wrap ops-has-secondary" id="t"' in html
    assert '<th scope="col" class="ops-secondary">Owner</th>' in html
    assert '<td class="ops-secondary">b</td>' in html
    assert '<td class="num">3</td>' in html
    assert "Show all columns" in html


def test_sign_in_works_with_the_new_look(client, db, responder):
    response = client.post("/accounts/login/", {"username": responder.username, "password": PASSWORD})
    assert response.status_code == 302
