"""Login lockout (django-axes): per user and per IP, on every door that takes a password or a token."""

import logging
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.utils import timezone

from tests.conftest import PASSWORD

LIMIT = getattr(settings, "AXES_FAILURE_LIMIT", 5)
LOCKED_MESSAGE = b"Too many failed sign-in attempts"
ACCOUNTS_LOGIN = "/accounts/login/"
ADMIN_LOGIN = "/admin/login/"


def _attempt(client, url, username, password, ip="127.0.0.1"):
    return client.post(url, {"username": username, "password": password}, REMOTE_ADDR=ip)


def _signed_in(client) -> bool:
    return client.get("/")["Location"] != "/accounts/login/?next=/"


def _fail(client, url, username, times, ip="127.0.0.1"):
    return [_attempt(client, url, username, "wrong-password", ip) for _ in range(times)]


@pytest.mark.django_db
@pytest.mark.parametrize("url", [ACCOUNTS_LOGIN, ADMIN_LOGIN])
def test_five_wrong_passwords_lock_the_account_and_the_right_one_is_refused(client, manager, url):
    responses = _fail(client, url, "manager", LIMIT)
    assert [r.status_code for r in responses[:-1]] == [200] * (LIMIT - 1)
    # the attempt that reaches the limit already answers with the lockout page
    assert responses[-1].status_code == 429
    assert LOCKED_MESSAGE in responses[-1].content

    right = _attempt(client, url, "manager", PASSWORD)
    assert right.status_code == 429
    assert LOCKED_MESSAGE in right.content
    assert b"15 minutes" in right.content
    assert right["Retry-After"] == str(15 * 60)
    assert right["Content-Type"].startswith("text/html")
    assert not _signed_in(client)


@pytest.mark.django_db
def test_fewer_failures_than_the_limit_still_sign_in(client, support_user):
    _fail(client, ACCOUNTS_LOGIN, "support", LIMIT - 1)
    assert _attempt(client, ACCOUNTS_LOGIN, "support", PASSWORD).status_code == 302
    assert _signed_in(client)


@pytest.mark.django_db
def test_lockout_per_ip_across_usernames(client, manager, responder):
    for n in range(LIMIT):  # a password spray: one guess for each of many usernames
        _attempt(client, ACCOUNTS_LOGIN, f"user-{n}", "wrong-password", ip="203.0.113.7")
    locked = _attempt(client, ADMIN_LOGIN, "manager", PASSWORD, ip="203.0.113.7")
    assert locked.status_code == 429
    # the same person from another network is not affected by the spray
    assert _attempt(client, ADMIN_LOGIN, "manager", PASSWORD, ip="198.51.100.20").status_code == 302


@pytest.mark.django_db
def test_lockout_per_username_across_ips(client, manager, responder):
    for n in range(LIMIT):  # a distributed guess: one address per attempt, one account
        _attempt(client, ACCOUNTS_LOGIN, "manager", "wrong-password", ip=f"203.0.113.{n + 1}")
    assert _attempt(client, ADMIN_LOGIN, "manager", PASSWORD, ip="198.51.100.20").status_code == 429
    # another account from one of those addresses signs in (that address failed only once)
    assert _attempt(client, ADMIN_LOGIN, "responder", PASSWORD, ip="203.0.113.1").status_code == 302


@pytest.mark.django_db
def test_cool_off_expires(client, manager):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        _fail(client, ADMIN_LOGIN, "manager", LIMIT)
        traveller.shift(timedelta(minutes=14))
        assert _attempt(client, ADMIN_LOGIN, "manager", PASSWORD).status_code == 429
        # that attempt during the lockout restarts the cool-off: 15 minutes from now
        traveller.shift(timedelta(minutes=14))
        assert _attempt(client, ADMIN_LOGIN, "manager", PASSWORD).status_code == 429
        traveller.shift(timedelta(minutes=15, seconds=1))
        assert _attempt(client, ADMIN_LOGIN, "manager", PASSWORD).status_code == 302


@pytest.mark.django_db
def test_success_resets_the_count(client, manager):
    _fail(client, ACCOUNTS_LOGIN, "manager", LIMIT - 1)
    assert _attempt(client, ACCOUNTS_LOGIN, "manager", PASSWORD).status_code == 302
    client.post("/accounts/logout/")
    responses = _fail(client, ACCOUNTS_LOGIN, "manager", LIMIT - 1)
    assert [r.status_code for r in responses] == [200] * (LIMIT - 1)
    assert _attempt(client, ACCOUNTS_LOGIN, "manager", PASSWORD).status_code == 302


@pytest.mark.django_db
def test_an_insider_cannot_reset_the_count_on_someone_else_by_signing_in(client, manager, responder):
    # guesses at the manager's password from one address ...
    _fail(client, ACCOUNTS_LOGIN, "manager", LIMIT - 1, ip="203.0.113.9")
    # ... interleaved with the guesser's own successful sign-in from that address
    assert _attempt(client, ACCOUNTS_LOGIN, "responder", PASSWORD, ip="203.0.113.9").status_code == 302
    client.post("/accounts/logout/")
    assert _attempt(client, ACCOUNTS_LOGIN, "manager", "wrong-password", ip="203.0.113.9").status_code == 429


@pytest.mark.django_db
def test_lockout_is_audited_in_the_database_and_the_log(client, manager, caplog):
    from axes.models import AccessAttempt, AccessFailureLog

    with caplog.at_level(logging.WARNING, logger="accounts.lockout"):
        _fail(client, ADMIN_LOGIN, "manager", LIMIT, ip="203.0.113.50")
    assert AccessFailureLog.objects.filter(username="manager", ip_address="203.0.113.50").count() == LIMIT
    assert AccessFailureLog.objects.filter(username="manager", locked_out=True).exists()
    attempt = AccessAttempt.objects.get(username="manager")
    assert attempt.failures_since_start == LIMIT
    assert "wrong-password" not in attempt.post_data  # passwords are masked in the record
    lines = [r.getMessage() for r in caplog.records if r.name == "accounts.lockout"]
    assert any("locked out" in line and "'manager'" in line and "203.0.113.50" in line for line in lines), (
        lines
    )


@pytest.mark.django_db
def test_forwarded_for_header_is_ignored_unless_a_proxy_is_trusted(client, manager, settings):
    # without a trusted proxy, a client cannot dodge the per-IP count by inventing addresses
    for n in range(LIMIT):
        client.post(
            ACCOUNTS_LOGIN,
            {"username": f"user-{n}", "password": "x"},
            REMOTE_ADDR="203.0.113.7",
            HTTP_X_FORWARDED_FOR=f"198.51.100.{n}",
        )
    assert _attempt(client, ACCOUNTS_LOGIN, "manager", PASSWORD, ip="203.0.113.7").status_code == 429


@pytest.mark.django_db
def test_behind_a_trusted_proxy_the_forwarded_address_counts(client, manager, settings):
    settings.LOGIN_PROXY_COUNT = 1
    for n in range(LIMIT):  # one proxy (10.0.0.2) in front: it appends the client it saw
        client.post(
            ACCOUNTS_LOGIN,
            {"username": f"user-{n}", "password": "x"},
            REMOTE_ADDR="10.0.0.2",
            HTTP_X_FORWARDED_FOR=f"spoofed-{n}, 203.0.113.7",
        )
    behind_same_proxy = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "198.51.100.4"}
    ok = client.post(ACCOUNTS_LOGIN, {"username": "manager", "password": PASSWORD}, **behind_same_proxy)
    assert ok.status_code == 302  # the proxy's own address is not what was locked
    client.post("/accounts/logout/")
    locked = client.post(
        ACCOUNTS_LOGIN,
        {"username": "manager", "password": PASSWORD},
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="203.0.113.7",
    )
    assert locked.status_code == 429


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("actor", "status"),
    [("superuser", 200), ("manager", 200), ("responder", 403), ("release_lead", 403), ("support_user", 403)],
)
def test_lockout_records_are_visible_to_managers_and_superusers_only(client, request, actor, status):
    client.force_login(request.getfixturevalue(actor))
    for url in ("/admin/axes/accessattempt/", "/admin/axes/accessfailurelog/", "/admin/axes/accesslog/"):
        assert client.get(url).status_code == status, url


@pytest.mark.django_db
def test_lockout_records_are_read_only(client, manager, superuser):
    from axes.models import AccessFailureLog

    _fail(client, ADMIN_LOGIN, "someone", 1)
    failure = AccessFailureLog.objects.get()
    client.force_login(manager)
    assert client.get(f"/admin/axes/accessfailurelog/{failure.pk}/change/").status_code == 200
    assert (
        client.post(f"/admin/axes/accessfailurelog/{failure.pk}/delete/", {"post": "yes"}).status_code == 403
    )
    client.force_login(superuser)
    # not even a superuser rewrites the audit trail
    assert (
        client.post(f"/admin/axes/accessfailurelog/{failure.pk}/delete/", {"post": "yes"}).status_code == 403
    )
    assert client.get("/admin/axes/accessfailurelog/add/").status_code == 403
    assert AccessFailureLog.objects.count() == 1


# --- API tokens -----------------------------------------------------------------------------

API = "/api/v1/teams/"


def _token_get(api_client, key, ip="127.0.0.1"):
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return api_client.get(API, REMOTE_ADDR=ip)


@pytest.mark.django_db
def test_unknown_api_tokens_lock_out_the_address_with_json_429(api_client, manager):
    from accounts.services import create_token

    _, key = create_token(user=manager, actor=manager, name="real")
    guesses = [_token_get(api_client, f"ops_{n:064x}", ip="203.0.113.66") for n in range(LIMIT)]
    assert [r.status_code for r in guesses[:-1]] == [401] * (LIMIT - 1)
    assert guesses[-1].status_code == 429
    # while locked, even the right key from that address is refused - in DRF's JSON shape
    locked = _token_get(api_client, key, ip="203.0.113.66")
    assert locked.status_code == 429
    assert locked["Content-Type"] == "application/json"
    assert locked["Retry-After"] == str(15 * 60)
    assert locked.json()["detail"].startswith("Too many failed sign-in attempts.")
    # other addresses are not affected, and neither is the address's web sign-in count per user
    assert _token_get(api_client, key, ip="198.51.100.1").status_code == 200


@pytest.mark.django_db
def test_api_lockout_expires_after_the_cool_off(api_client, manager):
    from accounts.services import create_token

    _, key = create_token(user=manager, actor=manager, name="real")
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        for n in range(LIMIT):
            _token_get(api_client, f"guess-{n}")
        assert _token_get(api_client, key).status_code == 429
        traveller.shift(timedelta(minutes=15, seconds=1))
        assert _token_get(api_client, key).status_code == 200


@pytest.mark.django_db
def test_expired_and_revoked_tokens_do_not_count_as_guesses(api_client, manager):
    from accounts.services import create_token, revoke_token

    _, good = create_token(user=manager, actor=manager, name="real")
    revoked, revoked_key = create_token(user=manager, actor=manager, name="old")
    revoke_token(token=revoked, actor=manager)
    for _ in range(LIMIT * 2):  # a forgotten cron job with a revoked key
        assert _token_get(api_client, revoked_key).status_code == 401
    assert _token_get(api_client, good).status_code == 200


@pytest.mark.django_db
def test_token_guesses_and_password_guesses_from_one_address_add_up(client, api_client, manager):
    _fail(client, ACCOUNTS_LOGIN, "someone", LIMIT - 1, ip="203.0.113.80")
    assert _token_get(api_client, "ops_nope", ip="203.0.113.80").status_code == 429
    assert _attempt(client, ADMIN_LOGIN, "manager", PASSWORD, ip="203.0.113.80").status_code == 429


@pytest.mark.django_db
def test_session_api_use_is_not_affected_by_a_locked_address(client, api_client, manager):
    for n in range(LIMIT):
        _token_get(api_client, f"guess-{n}")
    client.force_login(manager)  # signed in before the lockout
    assert client.get(API).status_code == 200


@pytest.mark.django_db
def test_token_failures_are_audited(api_client, caplog):
    from axes.models import AccessFailureLog

    with caplog.at_level(logging.WARNING, logger="accounts.lockout"):
        for n in range(LIMIT):
            _token_get(api_client, f"guess-{n}", ip="203.0.113.90")
    failures = AccessFailureLog.objects.filter(ip_address="203.0.113.90")
    assert failures.count() == LIMIT
    assert {f.path_info for f in failures} == {API}
    assert any("locked out" in r.getMessage() and "203.0.113.90" in r.getMessage() for r in caplog.records)


# --- sign-in log, lifting a lockout, test-client compatibility ------------------------------


@pytest.mark.django_db
def test_successful_sign_ins_are_logged(client, manager):
    from axes.models import AccessLog

    _attempt(client, ADMIN_LOGIN, "manager", PASSWORD, ip="198.51.100.7")
    entry = AccessLog.objects.get(username="manager")
    assert entry.ip_address == "198.51.100.7"
    assert entry.path_info == ADMIN_LOGIN


@pytest.mark.django_db
@pytest.mark.parametrize(("actor", "lifted"), [("manager", True), ("superuser", True), ("responder", False)])
def test_a_manager_lifts_a_lockout(client, request, manager, actor, lifted):
    from axes.models import AccessAttempt

    _fail(client, ADMIN_LOGIN, "manager", LIMIT)
    attempt = AccessAttempt.objects.get()
    client.force_login(request.getfixturevalue(actor))
    client.post(
        "/admin/axes/accessattempt/",
        {"action": "lift_lockout", "_selected_action": [attempt.pk]},
        follow=True,
    )
    assert AccessAttempt.objects.exists() is not lifted
    client.post("/accounts/logout/")
    assert (_attempt(client, ADMIN_LOGIN, "manager", PASSWORD).status_code == 302) is lifted


@pytest.mark.django_db
def test_the_test_clients_login_goes_through_the_lockout(client, manager):
    assert client.login(username="manager", password=PASSWORD)
    client.logout()
    for _ in range(LIMIT):
        assert not client.login(username="manager", password="wrong-password")
    assert not client.login(username="manager", password=PASSWORD)  # locked: refused


# --- retention ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_old_sign_in_records_are_pruned_daily(client, manager, settings):
    from axes.models import AccessFailureLog, AccessLog

    from accounts import tasks
    from opsportal import periodic

    settings.LOGIN_RECORDS_RETENTION_DAYS = 30
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        _fail(client, ACCOUNTS_LOGIN, "someone", 2)
        _attempt(client, ACCOUNTS_LOGIN, "manager", PASSWORD)
        traveller.shift(timedelta(days=31))
        _fail(client, ACCOUNTS_LOGIN, "someone", 1)
        assert tasks.prune_sign_in_records() == 3  # two failures and one sign-in, 31 days old
        assert AccessFailureLog.objects.count() == 1
        assert not AccessLog.objects.exists()
        assert tasks.prune_sign_in_records() == 0
    spec = next(s for s in periodic.collect() if s.task == "accounts.prune_sign_in_records")
    assert spec.crontab


def test_an_overlong_username_is_a_wrong_password_not_a_server_error(client, manager):
    """axes keeps the username in a 255-character column: a longer one used to end the sign-in
    in a DataError on PostgreSQL (found by the form fuzzer)."""
    from axes.models import AccessAttempt

    client.raise_request_exception = True
    long_name = "m" * 300
    response = client.post("/accounts/login/", {"username": long_name, "password": "wrong"})
    assert response.status_code == 200
    attempt = AccessAttempt.objects.get(username=long_name[:255])
    assert attempt.failures_since_start == 1
