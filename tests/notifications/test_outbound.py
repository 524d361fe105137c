"""The outbound-request guard itself (notifications/outbound.py): the address policy (on
address objects, no I/O), the allow-list setting and its deprecated alias, the system checks,
and guarded clients against real loopback receivers (refusal before any connection, no
redirects, the total deadline, bounded reads)."""

from __future__ import annotations

import asyncio
import gzip
import ipaddress
import socket
import time

import httpx
import pytest

from notifications import outbound
from notifications.checks import check_outbound_settings
from tests.receivers import trickling_body, trickling_status

ip = ipaddress.ip_address


@pytest.fixture
def production(settings):
    settings.DEBUG = False
    settings.OUTBOUND_ALLOWED_NETWORKS = None
    settings.PROBE_ALLOWED_NETWORKS = None
    return settings


# --- Policy --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address", ["93.184.215.14", "1.1.1.1", "2606:2800:21f:cb07:6820:80da:af6b:8b2c", "::ffff:8.8.8.8"]
)
def test_public_addresses_are_allowed_by_default(production, address):
    expected = ip(address).ipv4_mapped if address.startswith("::ffff:") else ip(address)
    assert outbound.check_address(ip(address)) == expected  # IPv4-mapped: checked as IPv4
    assert outbound.is_allowed(address)


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "a loopback address"),
        ("127.8.9.10", "a loopback address"),
        ("::1", "a loopback address"),
        ("::ffff:127.0.0.1", "a loopback address"),
        ("10.1.2.3", "a private address"),
        ("172.16.0.1", "a private address"),
        ("192.168.1.1", "a private address"),
        ("fd12:3456::1", "a private address"),
        ("100.64.0.1", "a shared (carrier-grade NAT) address"),
        ("224.0.0.1", "a multicast address"),
    ],
)
def test_non_public_addresses_are_refused_with_the_reason(production, address, kind):
    with pytest.raises(outbound.Refused) as refused:
        outbound.check_address(ip(address))
    assert refused.value.reason == f"{kind}, not in OUTBOUND_ALLOWED_NETWORKS"
    shown = ip(address).ipv4_mapped or ip(address) if ip(address).version == 6 else ip(address)
    assert str(refused.value) == f"{shown} is {kind}, not in OUTBOUND_ALLOWED_NETWORKS"


@pytest.mark.parametrize(
    "address",
    [
        "169.254.169.254",
        "::ffff:169.254.169.254",
        "fd00:ec2::254",
        "100.100.100.200",
        "fe80::1",
        "0.0.0.0",  # noqa: S104 - an address to refuse, not one to bind
        "::",
        "64:ff9b::a9fe:a9fe",  # NAT64 for 169.254.169.254
        "2002:a9fe:a9fe::1",  # 6to4 for 169.254.169.254
    ],
)
def test_metadata_link_local_and_this_host_are_refused_whatever_the_allow_list(settings, address):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["0.0.0.0/0", "::/0"]
    with pytest.raises(outbound.Refused, match="always refused"):
        outbound.check_address(ip(address))


def test_an_ipv6_address_embedding_a_private_ipv4_is_refused(production):
    with pytest.raises(outbound.Refused, match=r"embedding 10\.0\.0\.1 \(a private address\)"):
        outbound.check_address(ip("2002:a00:1::1"))  # 6to4 for 10.0.0.1
    assert outbound.is_allowed(ip("64:ff9b::808:808"))  # NAT64 for 8.8.8.8


def test_the_allow_list_opens_exactly_its_networks(settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["10.0.0.0/8", "::1/128"]
    assert outbound.is_allowed(ip("10.200.0.1"))
    assert outbound.is_allowed(ip("::1"))  # an IPv6 address is not matched against 0.0.0.0/8
    assert not outbound.is_allowed(ip("192.168.0.1"))
    assert not outbound.is_allowed(ip("127.0.0.1"))
    settings.OUTBOUND_ALLOWED_NETWORKS = "10.0.0.0/8, 192.168.0.0/16"  # a string, as from the environment
    assert outbound.is_allowed(ip("192.168.1.10"))


def test_debug_allows_loopback_only_while_the_setting_is_unset(production):
    assert not outbound.is_allowed(ip("127.0.0.1"))
    production.DEBUG = True
    assert outbound.is_allowed(ip("127.0.0.1"))
    assert outbound.is_allowed(ip("::1"))
    assert not outbound.is_allowed(ip("10.0.0.1"))
    production.OUTBOUND_ALLOWED_NETWORKS = ["10.0.0.0/8"]  # an explicit list wins over DEBUG's default
    assert not outbound.is_allowed(ip("127.0.0.1"))
    assert outbound.is_allowed(ip("10.0.0.1"))


def test_probe_allowed_networks_is_a_deprecated_alias(production):
    production.PROBE_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    assert outbound.configured_networks() == (["10.0.0.0/8"], "PROBE_ALLOWED_NETWORKS")
    assert outbound.is_allowed(ip("10.0.0.1"))
    [warning] = check_outbound_settings()
    assert (warning.id, warning.level) == ("notifications.W001", 30)
    assert "Rename it to OUTBOUND_ALLOWED_NETWORKS" in warning.msg

    production.OUTBOUND_ALLOWED_NETWORKS = ["192.168.0.0/16"]  # the new name wins
    assert not outbound.is_allowed(ip("10.0.0.1"))
    [warning] = check_outbound_settings()
    assert warning.id == "notifications.W001"
    assert "is ignored" in warning.msg


# --- System checks ---------------------------------------------------------------------------


def test_default_configuration_passes_the_checks(production):
    assert check_outbound_settings() == []


def test_a_bad_network_is_an_error(production):
    production.OUTBOUND_ALLOWED_NETWORKS = ["10.0.0.0/8", "not-a-network"]
    assert [e.id for e in check_outbound_settings()] == ["notifications.E001"]


def test_an_allow_list_overlapping_metadata_is_a_warning(production):
    production.OUTBOUND_ALLOWED_NETWORKS = ["169.254.0.0/16"]
    assert [e.id for e in check_outbound_settings()] == ["notifications.W002"]


@pytest.mark.parametrize(("timeout", "lease", "ids"), [(10, 300, []), (300, 300, ["notifications.E003"]),
                                                       (400, 300, ["notifications.E003"]),
                                                       (0, 300, ["notifications.E002"])])  # fmt: skip
def test_the_http_deadline_must_be_below_the_lease(production, timeout, lease, ids):
    production.NOTIFICATIONS_HTTP_TIMEOUT = timeout
    production.NOTIFICATIONS_LEASE_SECONDS = lease
    assert [e.id for e in check_outbound_settings()] == ids


def test_the_checks_run_with_manage_py_check(production):
    from django.core import checks

    production.NOTIFICATIONS_HTTP_TIMEOUT = 600
    assert "notifications.E003" in [e.id for e in checks.run_checks()]


# --- Save-time URL validation ------------------------------------------------------------------


@pytest.fixture
def fake_dns(monkeypatch):
    """Names under .test answer from this table; the real resolver is never asked for them
    (tests send no DNS queries out). A name mapped to None does not resolve."""
    table: dict[str, list[str] | None] = {}
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else host
        if not name.endswith(".test"):
            return real(host, port, *args, **kwargs)
        addresses = table.get(name)
        if addresses is None:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in addresses
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return table


def test_validate_url_checks_every_address_of_a_name(production, fake_dns):
    fake_dns["hooks.test"] = ["93.184.215.14"]
    fake_dns["mixed.test"] = ["93.184.215.14", "10.0.0.7"]
    fake_dns["nowhere.test"] = None
    outbound.validate_url("https://hooks.test/services/T/B/x")
    with pytest.raises(outbound.Refused, match=r"mixed\.test resolves to 10\.0\.0\.7, a private address"):
        outbound.validate_url("https://mixed.test/hook")
    outbound.validate_url("https://nowhere.test/hook")  # unresolvable now: checked at connect time


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com/x", "file:///etc/passwd", "gopher://example.com/", "https:///nohost", "not a url"],
)
def test_validate_url_wants_http_or_https_with_a_host(production, url):
    with pytest.raises(outbound.UnsupportedURL):
        outbound.validate_url(url)


def test_a_slow_resolver_does_not_hold_a_save(production, monkeypatch):
    real = socket.getaddrinfo

    def slow(host, *args, **kwargs):
        if host == "slow.test":
            time.sleep(2)
        return real("127.0.0.1", *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", slow)
    started = time.monotonic()
    outbound.validate_url("https://slow.test/hook", dns_timeout=0.3)  # accepted unresolved
    assert time.monotonic() - started < 1


# --- Guarded clients against real loopback receivers -----------------------------------------


def test_a_refused_destination_is_never_connected_to(production, make_receiver):
    receiver = make_receiver()
    with outbound.client() as client:
        for url in (receiver.url(), receiver.url(name="localhost")):
            with pytest.raises(outbound.Refused, match="a loopback address"):
                outbound.request(client, "GET", url, total_timeout=5)
            with pytest.raises(outbound.Refused):
                client.get(url)  # the client alone is guarded too
    assert (receiver.connections, receiver.count) == (0, 0)


def test_the_async_client_is_guarded_too(production, make_receiver):
    receiver = make_receiver(host="::1")

    async def attempt():
        async with outbound.async_client() as client:
            with pytest.raises(outbound.Refused, match=r"::1 is a loopback address"):
                await outbound.arequest(client, "GET", receiver.url(), total_timeout=5)

    asyncio.run(attempt())
    assert receiver.connections == 0


def test_a_name_resolving_to_loopback_is_refused_at_connect(production, fake_dns, make_receiver):
    receiver = make_receiver()
    fake_dns["rebound.test"] = ["127.0.0.1"]
    with outbound.client() as client, pytest.raises(outbound.Refused) as refused:
        outbound.request(client, "POST", receiver.url(name="rebound.test"), content=b"{}", total_timeout=5)
    assert str(refused.value) == (
        "rebound.test resolves to 127.0.0.1, a loopback address, not in OUTBOUND_ALLOWED_NETWORKS"
    )
    assert receiver.connections == 0


def test_allowed_destinations_reuse_their_connection(settings, make_receiver):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    receiver = make_receiver(response=b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    with outbound.client() as client:
        answers = [
            outbound.request(client, "POST", receiver.url(), content=b"x", total_timeout=5) for _ in range(3)
        ]
    assert [(a.status_code, a.content, a.truncated) for a in answers] == [(200, b"ok", False)] * 3
    assert (receiver.count, receiver.connections) == (3, 1)


def test_redirects_are_answers_never_followed(settings, make_receiver):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    target = make_receiver()
    moved = make_receiver(
        response=b"HTTP/1.1 307 Temporary Redirect\r\nLocation: %s\r\nContent-Length: 0\r\n\r\n"
        % target.url("/inside").encode()
    )
    with outbound.client() as client:
        answer = outbound.request(client, "GET", moved.url(), total_timeout=5)
        assert client.get(moved.url()).status_code == 307
    assert answer.status_code == 307
    assert (target.connections, target.count) == (0, 0)


@pytest.mark.parametrize("trickle", [trickling_status, trickling_body], ids=["status-line", "body"])
def test_the_total_deadline_cuts_a_trickling_answer(settings, make_receiver, trickle):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    receiver = make_receiver(trickle, interval=0.2, trickle_for=10)
    with outbound.client(timeout=5) as client:
        started = time.monotonic()
        with pytest.raises(outbound.DeadlineExceeded) as exceeded:
            outbound.request(client, "GET", receiver.url(), total_timeout=1)
        elapsed = time.monotonic() - started
    # each read took 0.2 s, so the 5 s per-read timeout never fires and the answer trickles for
    # 10 s: ending well before either (margin for a loaded 2-core box) is the 1 s total deadline
    assert elapsed < 3.5, elapsed
    assert str(exceeded.value) == "no complete answer within 1 s"
    assert isinstance(exceeded.value, httpx.TimeoutException)
    assert exceeded.value.status_code == (200 if trickle is trickling_body else None)


def test_the_async_deadline_cuts_a_trickling_answer(settings, make_receiver):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    receiver = make_receiver(trickling_status, interval=0.2, trickle_for=10)

    async def attempt():
        async with outbound.async_client(timeout=5) as client:
            with pytest.raises(outbound.DeadlineExceeded):
                await outbound.arequest(client, "GET", receiver.url(), total_timeout=1)

    started = time.monotonic()
    asyncio.run(attempt())
    assert time.monotonic() - started < 3.5  # the 1 s deadline, not the 5 s read timeout


def test_the_deadline_covers_a_slow_dns_answer(settings, monkeypatch):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    real = socket.getaddrinfo

    def slow(host, *args, **kwargs):
        if host == "slow.test":
            time.sleep(3)
        return real("127.0.0.1", *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", slow)
    started = time.monotonic()
    with outbound.client() as client, pytest.raises(outbound.DeadlineExceeded):
        outbound.request(client, "GET", "http://slow.test:9/", total_timeout=0.5)
    assert time.monotonic() - started < 1


def test_nested_deadlines_never_extend_the_outer_one():
    with outbound.deadline(1) as outer, outbound.deadline(60) as inner:
        assert inner == outer


def test_reads_stop_at_max_body(settings, make_receiver):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    body = b"y" * 100_000
    receiver = make_receiver(response=b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    with outbound.client() as client:
        answer = outbound.request(client, "GET", receiver.url(), total_timeout=5, max_body=1000)
    assert (len(answer.content), answer.truncated) == (1000, True)


def test_a_compressed_answer_is_inflated_within_max_body(settings, make_receiver):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    bomb = gzip.compress(b"\0" * 50_000_000)  # ~50 KB that inflates to 50 MB
    receiver = make_receiver(
        response=b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(bomb) + bomb
    )
    with outbound.client() as client:
        answer = outbound.request(client, "GET", receiver.url(), total_timeout=5, max_body=4096)
    assert (len(answer.content), answer.truncated) == (4096, True)


def test_excerpt_keeps_one_short_clean_line():
    text = "\x1b[2Jcleared\u202eevil\u200b\r\n\tnext\x00 line" + "z" * 500
    out = outbound.excerpt(text, 40)
    assert out == "[2Jclearedevil next line" + "z" * 15 + "…"
    assert len(out) == 40
    assert outbound.excerpt(b"\xff\xfe bytes") == "\ufffd\ufffd bytes"
