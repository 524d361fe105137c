"""The probe engine: runs network checks concurrently, no ORM.

``run_checks(specs)`` runs every check in one asyncio loop (httpx.AsyncClient for HTTP,
``asyncio.open_connection`` for TCP, ``ssl`` for TLS), at most ``concurrency`` at a time, each
inside its own ``asyncio.timeout``: a hanging endpoint costs its own timeout and nothing else.
Every connection goes through the outbound guard (``notifications.outbound``): the name is
resolved when the connection opens, every answer is checked against the allow-list, and the
socket goes to a checked address (the URL keeps its host name for the Host header, SNI and
the certificate check).
"""

from __future__ import annotations

import asyncio
import json
import ssl
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

try:  # httpcore asks for sniffio on every request; when it is not installed, remember the
    import sniffio  # noqa: F401  # miss so each ask does not rescan sys.path (~8 scans a request)
except ImportError:
    sys.modules["sniffio"] = None  # type: ignore[assignment]

import contextlib

import httpx
from cryptography import x509

from notifications import outbound
from opsportal.parsing import parse_int

MAX_REDIRECTS = 5
USER_AGENT = "OpsPortal-Probe/1"

UP, DEGRADED, DOWN = "up", "degraded", "down"

# OpenSSL verify codes (X509_V_ERR_*) we explain in plain words.
_VERIFY_REASONS = {
    9: "certificate is not yet valid",
    10: "certificate has expired",
    18: "untrusted certificate chain (self-signed certificate)",
    19: "untrusted certificate chain (self-signed certificate in chain)",
    20: "untrusted certificate chain (unknown issuer)",
    21: "untrusted certificate chain (unable to verify the first certificate)",
    62: "hostname mismatch",
}


@dataclass(frozen=True)
class CheckSpec:
    key: int  # the probe's primary key; results come back in the same order anyway
    kind: str  # "http" | "tls" | "tcp"
    timeout: float = 10.0
    url: str = ""
    method: str = "GET"
    headers: dict = field(default_factory=dict)
    body: str = ""
    expected_statuses: str = "200-399"
    body_contains: str = ""
    json_path: str = ""
    json_expected: str = ""
    latency_threshold_ms: int | None = None
    follow_redirects: bool = True
    host: str = ""
    port: int | None = None
    sni_name: str = ""
    warn_days: int = 21
    critical_days: int = 7


@dataclass
class Outcome:
    key: int
    outcome: str
    checked_at: datetime
    latency_ms: float | None = None
    status_code: int | None = None
    error: str = ""
    cert_expires_at: datetime | None = None
    cert_issuer: str = ""
    cert_sans: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.outcome != DOWN


@dataclass(frozen=True)
class EngineConfig:
    concurrency: int = 200
    body_cap: int = 1_048_576
    ca_bundle: str | None = None


class CheckFailed(Exception):
    """A check ran and the target failed it (message is the result's error)."""

    def __init__(self, message: str, *, status_code: int | None = None, latency_ms: float | None = None):
        super().__init__(message)
        self.status_code = status_code
        self.latency_ms = latency_ms


def parse_statuses(text: str) -> list[tuple[int, int]]:
    """ "200-299, 301" -> [(200, 299), (301, 301)]; raises ValueError on nonsense."""
    ranges = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        lo, _, hi = part.partition("-")
        lo_i, hi_i = int(lo), int(hi or lo)
        if not (100 <= lo_i <= hi_i <= 599):
            raise ValueError(f"bad status range {part!r}")
        ranges.append((lo_i, hi_i))
    if not ranges:
        raise ValueError("give at least one status code")
    return ranges


def json_lookup(document, path: str):
    """Follow a dotted path ("checks.0.ok") into parsed JSON; KeyError when it is absent."""
    node = document
    for segment in path.split("."):
        index = parse_int(segment) if isinstance(node, list) else None
        if index is not None:
            if not -len(node) <= index < len(node):
                raise KeyError(path)
            node = node[index]
        elif isinstance(node, dict) and segment in node:
            node = node[segment]
        else:
            raise KeyError(path)
    return node


def json_matches(value, expected: str) -> bool:
    try:
        if json.loads(expected) == value:
            return True
    except ValueError:
        pass
    return isinstance(value, str) and value == expected


def _client(ssl_context: ssl.SSLContext, timeout: float) -> httpx.AsyncClient:
    """A guarded client per check, without keep-alive: no shared pool (httpcore's pool scans
    every connection per request, quadratic with a thousand concurrent checks) and every
    check opens - and so checks - its own connections."""
    return outbound.async_client(
        timeout=timeout,
        connect_timeout=timeout,
        verify=ssl_context,
        keepalive=False,
        max_connections=None,
        headers={"User-Agent": USER_AGENT},
    )


async def _read_capped(response: httpx.Response, cap: int) -> tuple[bytes, bool]:
    chunks, size = [], 0
    async for chunk in response.aiter_raw():
        chunks.append(chunk)
        size += len(chunk)
        if size >= cap:
            return b"".join(chunks)[:cap], True
    raw = b"".join(chunks)
    encoding = response.headers.get("content-encoding", "").lower()
    if encoding in {"gzip", "deflate", "br", "zstd"}:
        decoder = response._get_content_decoder()
        raw = decoder.decode(raw) + decoder.flush()
        if len(raw) > cap:
            return raw[:cap], True
    return raw, False


async def check_http(spec: CheckSpec, ssl_context: ssl.SSLContext, config: EngineConfig) -> Outcome:
    async with _client(ssl_context, spec.timeout) as client:
        return await _check_http(spec, client, config)


async def _check_http(spec: CheckSpec, client: httpx.AsyncClient, config: EngineConfig) -> Outcome:
    started = time.perf_counter()
    checked_at = datetime.now(UTC)
    url = httpx.URL(spec.url)
    method = spec.method
    body = spec.body.encode() if spec.body and method == "POST" else None
    for hop in range(MAX_REDIRECTS + 1):
        if url.scheme not in {"http", "https"} or not url.host:
            raise CheckFailed(f"unsupported URL {url}")
        request = client.build_request(method, url, headers=spec.headers, content=body, timeout=spec.timeout)
        try:
            response = await client.send(request, stream=True)
        except outbound.Refused as exc:  # raised at connect time: nothing was sent
            raise outbound.Refused(f"redirect target {exc}" if hop else str(exc)) from None
        try:
            if spec.follow_redirects and response.is_redirect and "location" in response.headers:
                if hop == MAX_REDIRECTS:
                    raise CheckFailed(
                        f"more than {MAX_REDIRECTS} redirects", status_code=response.status_code
                    )
                url = url.join(response.headers["location"])
                if response.status_code == 303 or (response.status_code in (301, 302) and method == "POST"):
                    method, body = "GET", None
                continue
            content, truncated = (
                (b"", False) if method == "HEAD" else await _read_capped(response, config.body_cap)
            )
        finally:
            await response.aclose()
        break
    latency_ms = (time.perf_counter() - started) * 1000
    status = response.status_code
    outcome = Outcome(spec.key, UP, checked_at, latency_ms=round(latency_ms, 2), status_code=status)
    if not any(lo <= status <= hi for lo, hi in parse_statuses(spec.expected_statuses)):
        raise CheckFailed(
            f"HTTP {status}, expected {spec.expected_statuses}",
            status_code=status,
            latency_ms=outcome.latency_ms,
        )
    text = content.decode(response.encoding or "utf-8", errors="replace")
    if spec.body_contains and spec.body_contains not in text:
        suffix = f" (first {config.body_cap} bytes read)" if truncated else ""
        raise CheckFailed(
            f"body does not contain {spec.body_contains!r}{suffix}",
            status_code=status,
            latency_ms=outcome.latency_ms,
        )
    if spec.json_path:
        try:
            value = json_lookup(json.loads(text), spec.json_path)
        except ValueError:
            why = "body exceeds the size cap" if truncated else "body is not JSON"
            raise CheckFailed(why, status_code=status, latency_ms=outcome.latency_ms) from None
        except KeyError:
            raise CheckFailed(
                f"JSON path {spec.json_path!r} not found", status_code=status, latency_ms=outcome.latency_ms
            ) from None
        if not json_matches(value, spec.json_expected):
            raise CheckFailed(
                f"JSON {spec.json_path} is {json.dumps(value)[:100]}, expected {spec.json_expected}",
                status_code=status,
                latency_ms=outcome.latency_ms,
            )
    if spec.latency_threshold_ms and latency_ms > spec.latency_threshold_ms:
        outcome.outcome = DEGRADED
        outcome.error = f"slow: {latency_ms:.0f} ms > {spec.latency_threshold_ms} ms"
    return outcome


def _cert_details(der: bytes) -> tuple[datetime, datetime, str, list[str]]:
    cert = x509.load_der_x509_certificate(der)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = [
            *san.get_values_for_type(x509.DNSName),
            *(str(i) for i in san.get_values_for_type(x509.IPAddress)),
        ]
    except x509.ExtensionNotFound:
        names = []
    return cert.not_valid_before_utc, cert.not_valid_after_utc, cert.issuer.rfc4514_string()[:300], names


async def _handshake(ip, port: int, context: ssl.SSLContext, server_name: str) -> bytes:
    _reader, writer = await asyncio.open_connection(str(ip), port, ssl=context, server_hostname=server_name)
    try:
        return writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    finally:
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await writer.wait_closed()


async def check_tls(spec: CheckSpec, ssl_context: ssl.SSLContext) -> Outcome:
    started = time.perf_counter()
    checked_at = datetime.now(UTC)
    port = spec.port or 443
    ip = await _checked_address(spec.host, port)
    server_name = spec.sni_name or spec.host
    verify_error = ""
    try:
        der = await _handshake(ip, port, ssl_context, server_name)
    except ssl.SSLCertVerificationError as exc:
        verify_error = _VERIFY_REASONS.get(
            exc.verify_code, f"certificate verify failed: {exc.verify_message}"
        )
        unverified = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        unverified.check_hostname = False
        unverified.verify_mode = ssl.CERT_NONE
        der = await _handshake(ip, port, unverified, server_name)
    latency_ms = round((time.perf_counter() - started) * 1000, 2)
    not_before, not_after, issuer, names = _cert_details(der)
    outcome = Outcome(
        spec.key,
        UP,
        checked_at,
        latency_ms=latency_ms,
        cert_expires_at=not_after,
        cert_issuer=issuer,
        cert_sans=names,
    )
    now = datetime.now(UTC)
    days_left = (not_after - now).total_seconds() / 86400
    expiry = f"{not_after:%Y-%m-%d %H:%M} UTC"
    if verify_error == _VERIFY_REASONS[62]:
        verify_error = (
            f"hostname mismatch: certificate is for {', '.join(names) or 'no names'}, not {server_name}"
        )
    elif verify_error == _VERIFY_REASONS[10] or (not verify_error and not_after <= now):
        verify_error = f"certificate expired on {expiry}"
    elif verify_error == _VERIFY_REASONS[9]:
        verify_error = f"certificate is not valid before {not_before:%Y-%m-%d %H:%M} UTC"
    if verify_error:
        outcome.outcome, outcome.error = DOWN, verify_error
    elif days_left <= spec.critical_days:
        outcome.outcome = DOWN
        outcome.error = (
            f"certificate expires in {days_left:.1f} days ({expiry}), within {spec.critical_days} days"
        )
    elif days_left <= spec.warn_days:
        outcome.outcome = DEGRADED
        outcome.error = (
            f"certificate expires in {days_left:.1f} days ({expiry}), within {spec.warn_days} days"
        )
    return outcome


async def _checked_address(host: str, port: int):
    """Resolve once, check every answer (the guard), and return the address to connect to."""
    return (await outbound.aresolve(host, port))[0]


async def check_tcp(spec: CheckSpec) -> Outcome:
    started = time.perf_counter()
    checked_at = datetime.now(UTC)
    ip = await _checked_address(spec.host, spec.port)
    _reader, writer = await asyncio.open_connection(str(ip), spec.port)
    latency_ms = round((time.perf_counter() - started) * 1000, 2)
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return Outcome(spec.key, UP, checked_at, latency_ms=latency_ms)


def _root_causes(exc: BaseException):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def describe(exc: BaseException) -> str:
    """A short, human error for a failed check (the chain is searched for the real cause)."""
    for cause in _root_causes(exc):
        if isinstance(cause, ssl.SSLCertVerificationError):
            return _VERIFY_REASONS.get(
                cause.verify_code, f"certificate verify failed: {cause.verify_message}"
            )
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
    text = str(exc)
    if "CERTIFICATE_VERIFY_FAILED" in text:
        if "Hostname mismatch" in text:
            return _VERIFY_REASONS[62]
        if "expired" in text:
            return _VERIFY_REASONS[10]
        return "certificate verify failed"
    if isinstance(exc, httpx.ConnectError) and ("refused" in text.lower() or "errno 111" in text.lower()):
        return "connection refused"
    if isinstance(exc, httpx.HTTPError | OSError | ssl.SSLError):
        return f"{type(exc).__name__}: {text or 'no detail'}"[:500]
    return f"unexpected error: {type(exc).__name__}"


async def _run_one(spec: CheckSpec, ssl_context: ssl.SSLContext, config: EngineConfig, semaphore) -> Outcome:
    async with semaphore:
        checked_at = datetime.now(UTC)
        started = time.perf_counter()
        try:
            # The check's total deadline: asyncio cancels whatever is awaited when it passes
            # (DNS, connect, TLS, a trickling body alike).
            async with asyncio.timeout(spec.timeout):
                if spec.kind == "http":
                    return await check_http(spec, ssl_context, config)
                if spec.kind == "tls":
                    return await check_tls(spec, ssl_context)
                if spec.kind == "tcp":
                    return await check_tcp(spec)
                return Outcome(spec.key, DOWN, checked_at, error=f"unknown probe kind {spec.kind!r}")
        except TimeoutError:
            error, status, latency = f"timed out after {spec.timeout:g} s", None, None
        except outbound.Refused as exc:
            error, status, latency = f"refused by the outbound guard: {exc}", None, None
        except CheckFailed as exc:
            error, status, latency = str(exc), exc.status_code, exc.latency_ms
        except Exception as exc:  # any network failure is a result, never a crash of the batch
            error, status, latency = describe(exc), None, None
        if latency is None:
            latency = round((time.perf_counter() - started) * 1000, 2)
        return Outcome(spec.key, DOWN, checked_at, latency_ms=latency, status_code=status, error=error[:500])


async def run_checks_async(specs: Sequence[CheckSpec], config: EngineConfig | None = None) -> list[Outcome]:
    config = config or EngineConfig()
    ssl_context = ssl.create_default_context(cafile=config.ca_bundle)
    semaphore = asyncio.Semaphore(max(1, config.concurrency))
    return list(await asyncio.gather(*(_run_one(s, ssl_context, config, semaphore) for s in specs)))


def run_checks(specs: Sequence[CheckSpec], config: EngineConfig | None = None) -> list[Outcome]:
    """Run the checks concurrently; one ``Outcome`` per spec, in order. Never raises for a
    target's failure: every failure is a DOWN outcome with a human error message."""
    if not specs:
        return []
    return asyncio.run(run_checks_async(specs, config))
