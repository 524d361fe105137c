"""Real local servers for probe tests: plain HTTP (pytest-httpserver), TLS servers with
trustme certificates (valid, expiring soon, expired, wrong name) and TCP listeners."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from datetime import UTC, datetime, timedelta

import pytest
import trustme

LOCAL = ["127.0.0.0/8", "::1/128"]


@pytest.fixture(scope="session")
def ca():
    return trustme.CA()


@pytest.fixture(scope="session")
def ca_bundle(ca, tmp_path_factory):
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture
def allow_local(settings, ca_bundle):
    """Tests target 127.0.0.1: allow loopback (production default: public addresses only)."""
    settings.OUTBOUND_ALLOWED_NETWORKS = LOCAL
    settings.PROBE_CA_BUNDLE = ca_bundle
    return settings


class TLSServer:
    """Accepts TLS handshakes in a thread with one certificate, then closes each connection."""

    def __init__(self, cert: trustme.LeafCert):
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(self.context)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self._stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn):
        try:
            with self.context.wrap_socket(conn, server_side=True) as tls:
                tls.settimeout(2)
                with contextlib.suppress(OSError, ssl.SSLError):
                    tls.recv(1)
        except (OSError, ssl.SSLError):
            conn.close()

    def close(self):
        self._stop = True
        self.sock.close()


@pytest.fixture(scope="session")
def tls_servers(ca):
    now = datetime.now(UTC)
    certs = {
        "valid": ca.issue_cert("probe.test", not_after=now + timedelta(days=90)),
        "in30": ca.issue_cert("probe.test", not_after=now + timedelta(days=30)),
        "in10": ca.issue_cert("probe.test", not_after=now + timedelta(days=10)),
        "in3": ca.issue_cert("probe.test", not_after=now + timedelta(days=3)),
        "expired": ca.issue_cert(
            "probe.test", not_before=now - timedelta(days=60), not_after=now - timedelta(days=2)
        ),
        "mismatch": ca.issue_cert("other.test", "www.other.test", not_after=now + timedelta(days=90)),
        "untrusted": trustme.CA().issue_cert("probe.test", not_after=now + timedelta(days=90)),
    }
    servers = {name: TLSServer(cert) for name, cert in certs.items()}
    yield servers
    for server in servers.values():
        server.close()


@pytest.fixture
def tcp_listener():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    yield sock.getsockname()[1]
    sock.close()


@pytest.fixture
def closed_port():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port
