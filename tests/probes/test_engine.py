"""The engine against real local servers: every probe kind's verdicts and error messages,
timeouts, concurrency and the outbound (SSRF) guard."""

from __future__ import annotations

import json
import socket
import ssl
import time
from datetime import UTC, datetime, timedelta

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from notifications import outbound
from probes import engine
from probes.engine import CheckSpec, EngineConfig


def run(*specs, **config):
    return engine.run_checks(list(specs), EngineConfig(**config))


def run_one(spec, **config):
    return run(spec, **config)[0]


def http(url, **kw):
    return CheckSpec(key=kw.pop("key", 1), kind="http", url=url, timeout=kw.pop("timeout", 5), **kw)


@pytest.fixture
def hanging_port():
    """A socket that accepts connections (kernel backlog) and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    yield sock.getsockname()[1]
    sock.close()


# --- HTTP -----------------------------------------------------------------------------
def test_http_up_records_status_and_latency(allow_local, httpserver):
    httpserver.expect_request("/healthz").respond_with_json({"status": "ok"})
    out = run_one(http(httpserver.url_for("/healthz")))
    assert (out.outcome, out.status_code, out.error) == ("up", 200, "")
    assert out.latency_ms > 0


def test_http_unexpected_status_fails_with_the_status(allow_local, httpserver):
    httpserver.expect_request("/boom").respond_with_data("nope", status=503)
    out = run_one(http(httpserver.url_for("/boom"), expected_statuses="200-299"))
    assert out.outcome == "down"
    assert out.status_code == 503
    assert out.error == "HTTP 503, expected 200-299"


def test_http_expected_status_list_accepts_a_redirect_code(allow_local, httpserver):
    httpserver.expect_request("/moved").respond_with_data("", status=301, headers={"Location": "/elsewhere"})
    out = run_one(http(httpserver.url_for("/moved"), expected_statuses="200,301", follow_redirects=False))
    assert (out.outcome, out.status_code) == ("up", 301)


def test_http_body_substring(allow_local, httpserver):
    httpserver.expect_request("/page").respond_with_data("all systems nominal")
    assert run_one(http(httpserver.url_for("/page"), body_contains="nominal")).outcome == "up"
    out = run_one(http(httpserver.url_for("/page"), body_contains="green"))
    assert out.outcome == "down"
    assert out.error == "body does not contain 'green'"


def test_http_json_path_equality(allow_local, httpserver):
    httpserver.expect_request("/status").respond_with_json({"status": "ok", "checks": [{"db": True}]})
    url = httpserver.url_for("/status")
    assert run_one(http(url, json_path="status", json_expected="ok")).outcome == "up"
    assert run_one(http(url, json_path="checks.0.db", json_expected="true")).outcome == "up"
    out = run_one(http(url, json_path="status", json_expected="degraded"))
    assert (out.outcome, out.error) == ("down", 'JSON status is "ok", expected degraded')
    missing = run_one(http(url, json_path="checks.3.db", json_expected="true"))
    assert missing.error == "JSON path 'checks.3.db' not found"


def test_http_json_path_on_a_non_json_body(allow_local, httpserver):
    httpserver.expect_request("/html").respond_with_data("<html>")
    out = run_one(http(httpserver.url_for("/html"), json_path="status", json_expected="ok"))
    assert out.error == "body is not JSON"


def test_http_slow_success_is_degraded(allow_local, httpserver):
    def slow(_request):
        time.sleep(0.3)
        return Response("ok")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    out = run_one(http(httpserver.url_for("/slow"), latency_threshold_ms=100))
    assert out.outcome == "degraded"
    assert out.error.startswith("slow: ")
    assert out.error.endswith("> 100 ms")


def test_http_timeout(allow_local, hanging_port):
    out = run_one(http(f"http://127.0.0.1:{hanging_port}/", timeout=0.5))
    assert (out.outcome, out.error) == ("down", "timed out after 0.5 s")


def test_http_connection_refused(allow_local, closed_port):
    out = run_one(http(f"http://127.0.0.1:{closed_port}/"))
    assert (out.outcome, out.error) == ("down", "connection refused")


def test_a_hanging_endpoint_does_not_delay_the_others(allow_local, httpserver, hanging_port):
    httpserver.expect_request("/fast").respond_with_data("ok")
    specs = [http(f"http://127.0.0.1:{hanging_port}/", key=0, timeout=3)]
    specs += [http(httpserver.url_for("/fast"), key=i) for i in range(1, 21)]
    started = time.perf_counter()
    outcomes = run(*specs, concurrency=50)
    elapsed = time.perf_counter() - started
    assert outcomes[0].error == "timed out after 3 s"
    fast = outcomes[1:]
    assert all(o.outcome == "up" for o in fast)
    # Every fast check finished long before the hanging one gave up, and the batch took
    # one timeout, not one timeout per probe.
    assert max(o.latency_ms for o in fast) < 1500
    assert elapsed < 3 + 2


def test_http_body_is_read_up_to_the_cap(allow_local, httpserver):
    httpserver.expect_request("/big").respond_with_data("x" * 5000 + "needle")
    out = run_one(http(httpserver.url_for("/big"), body_contains="needle"), body_cap=1000)
    assert out.outcome == "down"
    assert out.error == "body does not contain 'needle' (first 1000 bytes read)"
    assert run_one(http(httpserver.url_for("/big"), body_contains="needle")).outcome == "up"


def test_http_follows_redirects_and_keeps_the_host_header(allow_local, httpserver):
    port = httpserver.port
    httpserver.expect_request("/old").respond_with_data("", status=302, headers={"Location": "/new"})
    httpserver.expect_request("/new", headers={"Host": f"localhost:{port}"}).respond_with_data("landed")
    out = run_one(http(f"http://localhost:{port}/old", body_contains="landed"))
    assert (out.outcome, out.status_code) == ("up", 200)


def test_https_probe_pins_the_address_and_keeps_sni(allow_local, ca):
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server_ctx)
    server = HTTPServer(host="127.0.0.1", port=0, ssl_context=server_ctx)
    server.start()
    try:
        server.expect_request("/secure").respond_with_data("tls ok")
        url = f"https://localhost:{server.port}/secure"
        out = run_one(http(url, body_contains="tls ok"), ca_bundle=allow_local.PROBE_CA_BUNDLE)
        assert (out.outcome, out.status_code) == ("up", 200), out.error
        untrusted = run_one(http(url))  # system trust store: the test CA is unknown
        assert untrusted.outcome == "down"
        assert "untrusted certificate chain" in untrusted.error
    finally:
        server.clear()
        server.stop()


def test_http_headers_are_sent(allow_local, httpserver):
    httpserver.expect_request("/auth", headers={"Authorization": "Bearer s3cret"}).respond_with_data("ok")
    out = run_one(http(httpserver.url_for("/auth"), headers={"Authorization": "Bearer s3cret"}))
    assert out.outcome == "up"


def test_http_post_with_body(allow_local, httpserver):
    httpserver.expect_request("/hook", method="POST", data='{"ping": 1}').respond_with_data("ok")
    out = run_one(http(httpserver.url_for("/hook"), method="POST", body=json.dumps({"ping": 1})))
    assert out.outcome == "up"


# --- Outbound guard (SSRF) ------------------------------------------------------------
@pytest.mark.parametrize("address", ["169.254.169.254", "fd00:ec2::254", "::ffff:169.254.169.254", "fe80::1"])
def test_metadata_and_link_local_addresses_are_always_refused(settings, address):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["0.0.0.0/0", "::/0"]
    with pytest.raises(outbound.Refused, match="always refused"):
        outbound.check_address(address)
    out = run_one(http(f"http://[{address}]/" if ":" in address else f"http://{address}/latest/meta-data/"))
    assert out.outcome == "down"
    assert out.error.startswith("refused by the outbound guard: ")


def test_private_address_refused_unless_allowed(settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    out = run_one(http("http://10.1.2.3:8080/"))
    assert out.error == (
        "refused by the outbound guard: 10.1.2.3 is a private address, not in OUTBOUND_ALLOWED_NETWORKS"
    )
    settings.OUTBOUND_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    assert str(outbound.check_address("10.1.2.3")) == "10.1.2.3"


def test_public_addresses_are_allowed_by_default(settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    assert str(outbound.check_address("93.184.216.34")) == "93.184.216.34"


def test_dns_name_resolving_to_loopback_is_refused(settings, httpserver):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    httpserver.expect_request("/").respond_with_data("must not be reached")
    out = run_one(http(f"http://localhost:{httpserver.port}/"))
    assert out.error == (
        "refused by the outbound guard: localhost resolves to 127.0.0.1, a loopback address, not in "
        "OUTBOUND_ALLOWED_NETWORKS"
    )
    assert httpserver.log == []


def test_tcp_and_tls_targets_go_through_the_guard(settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    tcp = run_one(CheckSpec(key=1, kind="tcp", host="localhost", port=22, timeout=2))
    tls = run_one(CheckSpec(key=2, kind="tls", host="169.254.169.254", port=443, timeout=2))
    assert tcp.error.startswith("refused by the outbound guard: localhost resolves to 127.0.0.1, a loopback")
    assert "always refused" in tls.error


def test_redirect_to_a_private_address_is_refused(settings, httpserver):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    httpserver.expect_request("/go").respond_with_data(
        "", status=302, headers={"Location": "http://10.0.0.5/admin"}
    )
    out = run_one(http(httpserver.url_for("/go")))
    assert out.outcome == "down"
    assert out.error == (
        "refused by the outbound guard: redirect target 10.0.0.5 is a private address, not in "
        "OUTBOUND_ALLOWED_NETWORKS"
    )


def test_redirect_to_metadata_is_refused(settings, httpserver):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    httpserver.expect_request("/go").respond_with_data(
        "", status=307, headers={"Location": "http://169.254.169.254/latest/meta-data/"}
    )
    assert "always refused" in run_one(http(httpserver.url_for("/go"))).error


def test_dns_rebinding_cannot_switch_the_address_after_the_check(settings, httpserver, monkeypatch):
    """The name is resolved once and the connection goes to that checked address: a resolver
    that answers an allowed address first and a refused one afterwards is never asked again."""
    import asyncio

    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    httpserver.expect_request("/", headers={"Host": f"rebind.test:{httpserver.port}"}).respond_with_data("ok")
    asked = []
    real = asyncio.BaseEventLoop.getaddrinfo

    async def rebinding(self, host, port, *args, **kwargs):
        if host not in ("rebind.test", b"rebind.test"):  # anyio passes the IDNA-encoded bytes
            return await real(self, host, port, *args, **kwargs)
        asked.append("rebind.test")
        address = "127.0.0.1" if len(asked) == 1 else "169.254.169.254"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(asyncio.BaseEventLoop, "getaddrinfo", rebinding)
    out = run_one(http(f"http://rebind.test:{httpserver.port}/"))
    assert asked == ["rebind.test"]
    assert out.outcome == "up", out.error


# --- TLS ------------------------------------------------------------------------------
def tls(server, **kw):
    return CheckSpec(
        key=1, kind="tls", host="127.0.0.1", port=server.port, sni_name="probe.test", timeout=5, **kw
    )


def test_tls_valid_certificate_records_expiry_issuer_and_names(allow_local, tls_servers):
    out = run_one(tls(tls_servers["valid"]), ca_bundle=allow_local.PROBE_CA_BUNDLE)
    assert (out.outcome, out.error) == ("up", "")
    assert out.cert_sans == ["probe.test"]
    assert "trustme" in out.cert_issuer
    assert abs(out.cert_expires_at - (datetime.now(UTC) + timedelta(days=90))) < timedelta(minutes=5)


def test_tls_expiring_in_30_days_is_up_with_the_default_thresholds(allow_local, tls_servers):
    out = run_one(tls(tls_servers["in30"]), ca_bundle=allow_local.PROBE_CA_BUNDLE)
    assert out.outcome == "up"


def test_tls_expiring_within_the_warning_period_is_degraded(allow_local, tls_servers):
    out = run_one(tls(tls_servers["in10"]), ca_bundle=allow_local.PROBE_CA_BUNDLE)
    assert out.outcome == "degraded"
    assert out.error.startswith("certificate expires in 10.0 days (")
    assert out.error.endswith("within 21 days")
    within_30 = run_one(tls(tls_servers["in30"], warn_days=45), ca_bundle=allow_local.PROBE_CA_BUNDLE)
    assert within_30.outcome == "degraded"


def test_tls_expiring_in_3_days_is_critical(allow_local, tls_servers):
    out = run_one(tls(tls_servers["in3"]), ca_bundle=allow_local.PROBE_CA_BUNDLE)
    assert out.outcome == "down"
    assert out.error.startswith("certificate expires in 3.0 days (")
    assert out.error.endswith("within 7 days")


def test_tls_expired_certificate(allow_local, tls_servers):
    out = run_one(tls(tls_servers["expired"]), ca_bundle=allow_local.PROBE_CA_BUNDLE)
    assert out.outcome == "down"
    assert out.error.startswith("certificate expired on ")
    assert out.cert_expires_at < datetime.now(UTC)


def test_tls_hostname_mismatch_names_the_certificate_names(allow_local, tls_servers):
    out = run_one(tls(tls_servers["mismatch"]), ca_bundle=allow_local.PROBE_CA_BUNDLE)
    assert out.outcome == "down"
    assert out.error == "hostname mismatch: certificate is for other.test, www.other.test, not probe.test"


def test_tls_untrusted_chain(allow_local, tls_servers):
    out = run_one(tls(tls_servers["untrusted"]), ca_bundle=allow_local.PROBE_CA_BUNDLE)
    assert out.outcome == "down"
    assert out.error.startswith("untrusted certificate chain")
    assert out.cert_sans == ["probe.test"]  # details recorded even when the chain is refused


def test_tls_connection_refused(allow_local, closed_port):
    out = run_one(CheckSpec(key=1, kind="tls", host="127.0.0.1", port=closed_port, timeout=2))
    assert (out.outcome, out.error) == ("down", "connection refused")


# --- TCP ------------------------------------------------------------------------------
def test_tcp_connect(allow_local, tcp_listener, closed_port):
    up = run_one(CheckSpec(key=1, kind="tcp", host="127.0.0.1", port=tcp_listener, timeout=2))
    down = run_one(CheckSpec(key=2, kind="tcp", host="127.0.0.1", port=closed_port, timeout=2))
    assert up.outcome == "up"
    assert up.latency_ms is not None
    assert (down.outcome, down.error) == ("down", "connection refused")


def test_tcp_timeout_against_an_unroutable_backlog(allow_local):
    """A listener whose backlog is full never completes the handshake: the probe times out."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(0)
    fillers = []
    try:
        for _ in range(8):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(sock.getsockname())
            fillers.append(s)
        out = run_one(CheckSpec(key=1, kind="tcp", host="127.0.0.1", port=sock.getsockname()[1], timeout=0.5))
        assert out.outcome == "down"
        assert out.error in {"timed out after 0.5 s", "connection refused"}
    finally:
        for s in fillers:
            s.close()
        sock.close()


def test_parse_statuses():
    assert engine.parse_statuses("200-299, 301") == [(200, 299), (301, 301)]
    for bad in ("", "abc", "99", "300-200", "200-700"):
        with pytest.raises(ValueError, match=r"status|invalid literal"):
            engine.parse_statuses(bad)


def test_system_check_reports_bad_probe_settings(settings):
    from probes.apps import check_probe_settings

    assert check_probe_settings() == []
    settings.PROBE_CONCURRENCY = 0
    settings.PROBE_CA_BUNDLE = "/nonexistent/ca.pem"
    assert sorted(e.id for e in check_probe_settings()) == ["probes.E002", "probes.E003"]
    # the allow-list is the outbound guard's setting, checked by notifications (test_outbound.py)
