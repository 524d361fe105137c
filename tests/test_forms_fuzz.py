"""Every non-admin page that takes input, fuzzed: whatever a browser or a script sends, the
answer is never a 500, nothing that was typed comes back as live HTML, and NUL bytes (which
PostgreSQL refuses) are form errors.

Pages (grep of every ``urls.py``/``views.py`` outside the admin, accounts included):

    /support/escalate/                   escalation form (support)
    /support/?page=                      own escalations (support)
    /status/subscribe/                   e-mail subscription (anonymous)
    /status/subscribe/confirm/<token>/   /status/unsubscribe/<token>/ (signed tokens)
    /status/history/<y>/<m>/             archive months
    /accounts/login/                     sign-in (with ?next=)
    /accounts/password/reset/ ...        reset request, and the new-password form of a link
    /accounts/password/change/           change (signed in)
    /accounts/profile/                   own name and time zone (signed in)
    /operating-model/check-in/<token>/   one-click check-in: note and evidence link
    /runbooks/?q=...                     search form
    /runbooks/<slug>/review/, /test/     mark reviewed, record a test (responders)
    /oncall/ack/<token>/                 one-click acknowledge

Strategies mix arbitrary text (every code point but lone surrogates, which no browser can
send), control characters and NUL, digits of other scripts and superscripts, huge strings,
HTML/script payloads and broken dates and numbers; any field may be missing. Examples are
bounded (``FUZZ``) so the module runs in well under a minute; the ``@example``s are the
inputs that answered 500 before they were fixed, kept as regressions.
"""

from __future__ import annotations

import itertools
import os
import uuid
from urllib.parse import quote, urlsplit

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.test import Client
from django.utils.encoding import force_bytes
from django.utils.html import escape
from django.utils.http import urlsafe_base64_encode
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from escalations.models import Escalation
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

FUZZ = settings(
    max_examples=int(os.environ.get("FORM_FUZZ_EXAMPLES", "30")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,  # reproducible runs; regressions are the @examples below
)

# --- values ---------------------------------------------------------------------------------
# Each payload carries the XSS marker; none of our pages contains any of them verbatim, so a
# raw one in a response is an unescaped echo.
PAYLOADS = [
    "<script>alert('XSS-1')</script>",
    '"><img src=x onerror=alert("XSS-2")>',
    "'><svg/onload=alert('XSS-3')>",
    "</textarea><script>alert('XSS-4')</script>",
    "' autofocus onfocus='alert(\"XSS-5\")",
    "javascript:alert('XSS-6')//<b>",
]
NASTY = [
    "", " ", "\x00", "a\x00b", "\x0b", "a\x1bb", "\x7f", "\u0085", "\u200b", "\u202e", "\ufeff", "\ufffe",
    "\u00b2", "1\u00b2", "\u0661\u0662", "\uff11", "\U0001d7d9", "9" * 40, "-1", "0", "1e9", "1.5", "NaN",
    "x" * 20_000, "null", "None", "[]", "{}", "%00", "../../etc/passwd", "' OR '1'='1", "{{ 7*7 }}",
    "2026-02-30T25:61", "9999-12-31T23:59", "0000-00-00T00:00", "2026-03-29T02:30", "\U0001f525" * 50,
]  # fmt: skip
text = st.text(max_size=120)  # all code points but surrogates: control characters and NUL included
payload = st.tuples(st.text(max_size=10), st.sampled_from(PAYLOADS), st.text(max_size=10)).map("".join)
value = st.one_of(text, st.sampled_from(NASTY), payload)


def fields(**specific) -> st.SearchStrategy[dict]:
    """A form body: every field may be missing, the usual value strategy unless given."""
    return st.fixed_dictionaries({}, optional={name: strategy | value for name, strategy in specific.items()})


def _sent_payloads(data: dict) -> list[str]:
    values = itertools.chain.from_iterable(v if isinstance(v, list) else [v] for v in data.values())
    return [p for v in values for p in PAYLOADS if p in str(v)]


def assert_safe(response, data: dict, *, statuses) -> str:
    """No 500, an expected status, and no payload echoed as live HTML."""
    assert response.status_code < 500
    assert response.status_code in statuses, (response.status_code, data)
    body = response.content.decode(errors="replace")
    for p in _sent_payloads(data):
        assert p not in body, f"unescaped echo of {p!r}"
    return body


# --- fixtures -------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def _generous_limits(settings):
    """Examples run back to back: rate limits would turn later ones into 429s."""
    settings.ESCALATIONS_RATE_LIMIT = "100000/m"
    settings.STATUS_SUBSCRIBE_RATE_LIMIT = "100000/m"
    settings.RATELIMIT_CACHE_PREFIX = f"rl-fuzz-{uuid.uuid4().hex}:"


def _client(user=None) -> Client:
    client = Client(REMOTE_ADDR=f"10.77.{os.getpid() % 250}.{uuid.uuid4().int % 250 + 1}")
    client.raise_request_exception = True  # a server error fails with its traceback
    if user is not None:
        client.force_login(user)
    return client


# --- support ----------------------------------------------------------------------------------
@pytest.fixture
def service(db):
    from escalations.models import SupportSettings
    from tests.escalations.factories import paged_service

    SupportSettings.objects.filter(pk=1).update(surge_threshold=10_000)  # each example files anew
    return paged_service(name="Checkout")


ESCALATION = {
    "incident": st.sampled_from(["new", "", "0", "1", "99999999999999999999"]),
    "service": st.sampled_from(["", "not-sure", "1", "0"]),
    "impact": st.sampled_from(["blocked", "degraded", "question", "BLOCKED"]),
    "customers_reporting": st.integers(-(10**20), 10**20).map(str),
    "started_at": st.datetimes().map(lambda d: d.strftime("%Y-%m-%dT%H:%M")),
    "links": st.lists(st.sampled_from(["https://ok.example.com/a", "http://[::1", "javascript:alert(1)"]) | value,
                      max_size=12).map("\n".join),
}  # fmt: skip


def test_escalation_form(support_user, service):
    client = _client(support_user)
    valid = {"incident": "new", "customer": "acme", "contact": "ops@acme.example", "service": str(service.pk),
             "summary": "Checkout fails", "impact": "blocked", "customers_reporting": "1"}  # fmt: skip

    @FUZZ
    @given(data=fields(customer=value, contact=value, summary=value, **ESCALATION), base=st.booleans())
    @example(data={"service": "\u00b2"}, base=True)  # isdigit() but not int(): was a 500
    @example(data={"incident": "\u00b2"}, base=True)
    @example(data={"customer": "a\x00b"}, base=True)
    def check(data, base):
        body_data = {**valid, **data} if base else data
        before = Escalation.objects.count()
        response = client.post("/support/escalate/", body_data)
        assert_safe(response, body_data, statuses={200, 302})
        if response.status_code == 200:
            assert response.context["form"].errors
            assert Escalation.objects.count() == before

    check()


def test_escalation_form_echoes_what_was_typed_escaped(support_user, service):
    typed = PAYLOADS[0] + "\x00"
    response = _client(support_user).post("/support/escalate/", {"customer": typed, "summary": PAYLOADS[3]})
    body = assert_safe(response, {"customer": typed, "summary": PAYLOADS[3]}, statuses={200})
    assert escape(PAYLOADS[0]) in body
    assert escape(PAYLOADS[3]) in body
    assert "Null characters are not allowed." in body


def test_support_home_page_parameter(support_user, service):
    client = _client(support_user)

    @FUZZ
    @given(page=value)
    def check(page):
        assert_safe(client.get("/support/", {"page": page}), {"page": page}, statuses={200})

    check()


# --- status page ----------------------------------------------------------------------------
def test_subscribe_form():
    client = _client()

    @FUZZ
    @given(data=fields(email=st.emails() | st.sampled_from(["a@b", "@", "a" * 300 + "@example.com"])))
    @example(data={"email": "a\x00b@example.com"})
    def check(data):
        response = client.post("/status/subscribe/", data)
        assert_safe(response, data, statuses={200, 400})

    check()


def test_subscribe_form_echoes_the_address_escaped():
    typed = f"{PAYLOADS[1]}@example.com"
    body = assert_safe(
        _client().post("/status/subscribe/", {"email": typed}), {"email": typed}, statuses={400}
    )
    assert escape(typed) in body


def test_status_token_and_archive_paths():
    client = _client()

    @FUZZ
    @given(token=value, year=st.integers(-(10**6), 10**6), month=st.integers(-100, 100))
    def check(token, year, month):
        for url in (
            f"/status/subscribe/confirm/{quote(token, safe='')}/",
            f"/status/unsubscribe/{quote(token, safe='')}/",
        ):
            assert_safe(client.get(url), {"token": token}, statuses={400, 404})
        if year >= 0 and month >= 0:
            assert_safe(client.get(f"/status/history/{year}/{month}/"), {}, statuses={200, 404})

    check()


# --- accounts ---------------------------------------------------------------------------------
def test_login_form(support_user):
    client = _client()

    @FUZZ
    @given(
        data=fields(
            username=st.sampled_from(["support", "SUPPORT", "support\x00"]), password=st.just(PASSWORD)
        ),
        next_url=st.sampled_from(["", "/support/", "https://evil.example/", "//evil.example", "javascript:x"])
        | value,
    )
    @example(data={"username": "a\x00b", "password": "x\x00"}, next_url="")
    def check(data, next_url):
        from axes.utils import reset

        reset()  # each example starts unlocked: the lockout itself has its own tests
        response = client.post(f"/accounts/login/?next={quote(next_url, safe='')}", data)
        assert_safe(response, data, statuses={200, 302})
        if response.status_code == 302:  # signed in: never sent off-site (relative paths are fine)
            location = urlsplit(response["Location"])
            assert (location.scheme, location.netloc) == ("", ""), response["Location"]
            client.logout()

    check()


def test_login_form_echoes_the_username_escaped():
    body = assert_safe(
        _client().post("/accounts/login/", {"username": PAYLOADS[1], "password": "x"}),
        {"username": PAYLOADS[1]},
        statuses={200},
    )
    assert escape(PAYLOADS[1]) in body


def test_password_reset_and_change_forms(support_user, mailoutbox):
    anonymous, signed_in = _client(), _client(support_user)

    def reset_form_url() -> str:
        """A fresh reset link, opened: the token moves to the session (.../set-password/)."""
        support_user.set_password(PASSWORD)
        support_user.save()
        signed_in.force_login(support_user)
        uid = urlsafe_base64_encode(force_bytes(support_user.pk))
        link = f"/accounts/password/reset/{uid}/{default_token_generator.make_token(support_user)}/"
        return anonymous.get(link)["Location"]

    state = {"form_url": reset_form_url()}

    @FUZZ
    @given(
        email=fields(email=st.emails()),
        change=fields(old_password=st.just(PASSWORD), new_password1=value, new_password2=value),
        new=fields(new_password1=value, new_password2=value),
    )
    @example(
        email={"email": "a\x00@example.com"}, change={"old_password": "\x00"}, new={"new_password1": "\x00"}
    )
    def check(email, change, new):
        assert_safe(anonymous.post("/accounts/password/reset/", email), email, statuses={200, 302})
        response = signed_in.post("/accounts/password/change/", change)
        assert_safe(response, change, statuses={200, 302})
        if response.status_code == 302:  # changed: put it back for the next example
            state["form_url"] = reset_form_url()
        response = anonymous.post(state["form_url"], new)
        assert_safe(response, new, statuses={200, 302})
        if response.status_code == 302:  # a strong pair was accepted: the link is spent
            state["form_url"] = reset_form_url()

    check()


def test_profile_form(support_user):
    """Name and time zone: refused input is a form error, nothing changed; a valid zone saves."""
    signed_in = _client(support_user)

    @FUZZ
    @given(
        body=fields(
            first_name=value,
            last_name=value,
            time_zone=st.sampled_from(["Europe/Berlin", "UTC", "Mars/Olympus", "", "Europe/Berlin\x00"]),
        )
    )
    @example(body={"first_name": "\x00", "time_zone": "UTC"})
    def check(body):
        response = signed_in.post("/accounts/profile/", body)
        assert_safe(response, body, statuses={200, 302})
        support_user.refresh_from_db()
        assert support_user.time_zone in ("Europe/Berlin", "UTC")
        assert "\x00" not in support_user.first_name

    check()


# --- operating model check-in -----------------------------------------------------------------
@pytest.fixture
def duty(db):
    from tests.operations.factories import ResponsibilityFactory

    return ResponsibilityFactory(title="Postmortem review")


def test_check_in_link_form(duty):
    from operations import tokens
    from operations.models import CheckIn

    client = _client(duty.owner)

    @FUZZ
    @given(
        data=fields(note=value, evidence_url=st.sampled_from(["https://docs.example.com/x", "http://[::1"]))
    )
    @example(data={"note": "a\x00b"})  # PostgreSQL refuses NUL: was a 500
    @example(data={"evidence_url": "https://docs.example.com/\x00"})
    @example(data={"note": "x" * 20_000})
    def check(data):
        duty.refresh_from_db()
        url = f"/operating-model/check-in/{tokens.make_token(duty.pk, duty.next_due_at)}/"
        before = CheckIn.objects.count()
        response = client.post(url, data, follow=True)
        assert_safe(response, data, statuses={200})
        done = CheckIn.objects.count() - before
        assert done in (0, 1)
        if done == 0:  # refused: the page says why
            assert list(response.context["messages"])

    check()


def test_check_in_token_path(duty):
    client = _client(duty.owner)

    @FUZZ
    @given(token=value)
    def check(token):
        assert_safe(
            client.get(f"/operating-model/check-in/{quote(token, safe='')}/"), {}, statuses={400, 404}
        )

    check()


# --- runbooks ---------------------------------------------------------------------------------
@pytest.fixture
def runbook(db):
    from tests.runbooks.factories import RunbookFactory

    return RunbookFactory(title="DNS failover")


def test_runbook_search_form(responder, runbook):
    client = _client(responder)

    @FUZZ
    @given(
        data=fields(
            q=value, service=value, team=value, freshness=st.sampled_from(["fresh", "stale"]), page=value
        )
    )
    @example(data={"q": "\x00"})
    @example(data={"q": PAYLOADS[0], "service": PAYLOADS[1]})
    def check(data):
        assert_safe(client.get("/runbooks/", data), data, statuses={200})

    check()


def test_runbook_review_and_test_forms(responder, runbook):
    client = _client(responder)

    @FUZZ
    @given(review=fields(note=value), tested=fields(evidence_url=value, evidence_note=value))
    @example(
        review={"note": "a\x00b"},
        tested={"evidence_note": "a\x00b", "evidence_url": "https://x.example/\x00"},
    )
    def check(review, tested):
        for url, data in (
            (f"/runbooks/{runbook.slug}/review/", review),
            (f"/runbooks/{runbook.slug}/test/", tested),
        ):
            response = client.post(url, data, follow=True)
            assert_safe(response, data, statuses={200})

    check()


def test_runbook_forms_say_what_is_wrong(responder, runbook):
    client = _client(responder)
    response = client.post(f"/runbooks/{runbook.slug}/review/", {"note": "a\x00b"}, follow=True)
    assert "Null characters are not allowed." in response.content.decode()
    response = client.post(f"/runbooks/{runbook.slug}/test/", {"evidence_note": "a\x00b"}, follow=True)
    assert "Null characters are not allowed." in response.content.decode()
    assert "Enter a valid http(s) link" not in response.content.decode()


# --- on-call acknowledge links -----------------------------------------------------------------
def test_acknowledge_link_token_path():
    client = _client()

    @FUZZ
    @given(token=value)
    def check(token):
        for method in (client.get, client.post):
            assert_safe(method(f"/oncall/ack/{quote(token, safe='')}/"), {}, statuses={400, 404})

    check()


def test_check_in_note_is_bounded_and_refused_with_nul(duty):
    """The deterministic form of the check-in regressions, with the messages people read."""
    from operations import tokens
    from operations.models import CheckIn

    client = _client(duty.owner)
    url = f"/operating-model/check-in/{tokens.make_token(duty.pk, duty.next_due_at)}/"
    response = client.post(url, {"note": "a\x00b"}, follow=True)
    assert "control character (U+0000)" in response.content.decode()
    response = client.post(url, {"evidence_url": "https://docs.example.com/\x00"}, follow=True)
    assert "control character (U+0000)" in response.content.decode()
    assert not CheckIn.objects.exists()
    assert "Yes, it is done" in response.content.decode()  # the cycle is still open
