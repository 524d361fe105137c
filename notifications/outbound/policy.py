"""The outbound guard's policy: which addresses the portal may connect to, and resolution
that checks every answer. See ``notifications.outbound`` for the whole picture."""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
import typing
from collections.abc import Iterable
from functools import lru_cache

import anyio
import httpx
from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

SETTING = "OUTBOUND_ALLOWED_NETWORKS"
DEPRECATED_SETTING = "PROBE_ALLOWED_NETWORKS"
DEBUG_DEFAULT_NETWORKS = ("127.0.0.0/8", "::1/128")
ALWAYS_REFUSED = tuple(
    ipaddress.ip_network(n)
    for n in (
        "169.254.0.0/16",  # IPv4 link-local: AWS/GCP/Azure/OpenStack metadata at 169.254.169.254
        "fe80::/10",  # IPv6 link-local
        "fd00:ec2::254/128",  # AWS metadata over IPv6
        "100.100.100.200/32",  # Alibaba Cloud metadata
        "0.0.0.0/8",  # "this host": connects to the local machine on Linux
        "::/128",
    )
)
NAT64_PREFIX = ipaddress.ip_network("64:ff9b::/96")
SAVE_TIME_DNS_TIMEOUT = 5.0  # seconds a save-time lookup may take before the name is accepted as is


class Refused(Exception):
    """The destination is not allowed. Nothing was sent; the message says why (it names the
    host and the address it resolved to, never anything read from the destination).
    ``address`` and ``reason`` are set when a specific address was refused."""

    def __init__(self, message: str, *, address: IPAddress | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.address = address
        self.reason = reason


class UnsupportedURL(ValueError):
    """Not an http(s) URL with a host."""


# --- Policy (no I/O) ---------------------------------------------------------------------


def configured_networks() -> tuple[object, str]:
    """The raw allow-list and where it came from: the setting, its deprecated alias, or the
    default (loopback with DEBUG on, nothing otherwise). ``None`` counts as unset."""
    value = getattr(settings, SETTING, None)
    if value is not None:
        return value, SETTING
    legacy = getattr(settings, DEPRECATED_SETTING, None)
    if legacy is not None:
        return legacy, DEPRECATED_SETTING
    return (DEBUG_DEFAULT_NETWORKS if settings.DEBUG else ()), "default"


@lru_cache(maxsize=16)
def _parse(networks: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(n, strict=False) for n in networks)


def allowed_networks() -> tuple[IPNetwork, ...]:
    """Networks allowed besides public addresses. Raises ValueError/TypeError on a bad
    setting (the system check reports it at start-up)."""
    value, _source = configured_networks()
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    return _parse(tuple(str(n) for n in typing.cast(Iterable, value)))


def _normalise(ip: IPAddress) -> IPAddress:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _embedded_ipv4(ip: IPAddress) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses a packet to ``ip`` may end up at: NAT64, 6to4 and Teredo embed one."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return []
    embedded = []
    if ip in NAT64_PREFIX:
        embedded.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    if ip.sixtofour is not None:
        embedded.append(ip.sixtofour)
    if ip.teredo is not None:
        embedded.append(ip.teredo[1])
    return embedded


def _in(ip: IPAddress, networks: Iterable[IPNetwork]) -> bool:
    # Compare versions first: ``IPv6Address("::1") in ip_network("0.0.0.0/8")`` is True.
    return any(ip.version == net.version and ip in net for net in networks)


def _kind(ip: IPAddress) -> str:
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_unspecified:
        return "an unspecified address"
    if isinstance(ip, ipaddress.IPv4Address) and ip in ipaddress.ip_network("100.64.0.0/10"):
        return "a shared (carrier-grade NAT) address"
    if ip.is_private:
        return "a private address"
    if ip.is_reserved:
        return "a reserved address"
    return "not a public address"


def _public(ip: IPAddress) -> bool:
    # Python 3.11 calls IPv4 multicast "global"; it is no destination for a request.
    return ip.is_global and not ip.is_multicast


def check_address(address: str | IPAddress) -> IPAddress:
    """Return the address if the portal may connect to it, else raise ``Refused`` saying why
    ("127.0.0.1 is a loopback address, not in OUTBOUND_ALLOWED_NETWORKS"). No I/O."""
    ip = _normalise(ipaddress.ip_address(address) if isinstance(address, str) else address)
    embedded = _embedded_ipv4(ip)
    if _in(ip, ALWAYS_REFUSED) or any(_in(e, ALWAYS_REFUSED) for e in embedded):
        _refuse(ip, "a link-local or cloud metadata address (always refused)")
    if _in(ip, allowed_networks()):
        return ip
    if not _public(ip):
        _refuse(ip, f"{_kind(ip)}, not in {SETTING}")
    blocked = next((e for e in embedded if not _public(e)), None)
    if blocked is not None:
        _refuse(ip, f"an IPv6 address embedding {blocked} ({_kind(blocked)}), not in {SETTING}")
    return ip


def _refuse(ip: IPAddress, reason: str) -> typing.NoReturn:
    raise Refused(f"{ip} is {reason}", address=ip, reason=reason)


def is_allowed(address: str | IPAddress) -> bool:
    try:
        check_address(address)
    except Refused:
        return False
    return True


def literal_address(host: str) -> IPAddress | None:
    """The IP address ``host`` spells ("10.0.0.1", "[::1]", "::1"), or None for a name."""
    try:
        return ipaddress.ip_address(host.strip("[]").split("%")[0])
    except ValueError:
        return None


# --- Resolution (every answer checked) ---------------------------------------------------


def _checked(host: str, infos: list) -> list[IPAddress]:
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        ip = _normalise(ipaddress.ip_address(str(sockaddr[0]).split("%")[0]))
        if ip not in addresses:
            addresses.append(ip)
    if not addresses:
        raise OSError(f"DNS lookup for {host} returned no address")
    for ip in addresses:  # a name that mixes allowed and refused answers is refused as a whole
        try:
            check_address(ip)
        except Refused as exc:
            raise Refused(
                f"{host} resolves to {exc.address}, {exc.reason}", address=exc.address, reason=exc.reason
            ) from None
    return addresses


def _getaddrinfo(host: str, port: int, timeout: float | None) -> list:
    """``socket.getaddrinfo`` bounded by ``timeout``: the C resolver cannot be interrupted,
    so it runs in a short-lived daemon thread that is abandoned when time is up (a thread
    per lookup: no pool to starve, nothing to re-create after a fork)."""
    if timeout is None:
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    outcome: dict[str, object] = {}
    done = threading.Event()

    def lookup() -> None:
        try:
            outcome["infos"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            outcome["error"] = exc
        finally:
            done.set()

    threading.Thread(target=lookup, name="outbound-dns", daemon=True).start()
    if not done.wait(max(timeout, 0)):
        raise TimeoutError(f"DNS lookup for {host} took more than {timeout:g} s")
    if "error" in outcome:
        raise typing.cast(OSError, outcome["error"])
    return typing.cast(list, outcome["infos"])


def _dns_error(host: str, exc: OSError) -> OSError:
    return OSError(f"DNS lookup for {host} failed: {getattr(exc, 'strerror', None) or exc}")


def resolve(host: str, port: int, *, timeout: float | None = None) -> list[IPAddress]:
    """Every address of ``host``, each checked (``Refused`` if any is not allowed). A literal
    IP is checked without DNS. Raises ``OSError`` when the lookup fails, ``TimeoutError``
    when it takes longer than ``timeout``."""
    host = host.strip("[]")
    literal = literal_address(host)
    if literal is not None:
        return [check_address(literal)]
    try:
        infos = _getaddrinfo(host, port, timeout)
    except TimeoutError:
        raise
    except OSError as exc:
        raise _dns_error(host, exc) from exc
    return _checked(host, infos)


async def aresolve(host: str, port: int, *, timeout: float | None = None) -> list[IPAddress]:
    """``resolve`` for asyncio/anyio code."""
    host = host.strip("[]")
    literal = literal_address(host)
    if literal is not None:
        return [check_address(literal)]
    try:
        with anyio.fail_after(timeout):
            infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except TimeoutError:
        raise TimeoutError(f"DNS lookup for {host} took more than {timeout:g} s") from None
    except OSError as exc:
        raise _dns_error(host, exc) from exc
    return _checked(host, list(infos))


def validate_url(url: str, *, dns_timeout: float = SAVE_TIME_DNS_TIMEOUT) -> None:
    """Save-time check of a destination URL: http(s) with a host, and the host allowed now.

    Raises ``UnsupportedURL`` or ``Refused``. A name that cannot be resolved right now (no
    network, a name not published yet) is accepted: the check that counts runs at every
    connect, and a refused send fails with a clear error. Contacts nothing but DNS.
    """
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise UnsupportedURL(f"not a valid URL: {exc}") from None
    if parsed.scheme not in ("http", "https"):
        raise UnsupportedURL("only http:// and https:// addresses can be used")
    if not parsed.host:
        raise UnsupportedURL("the address has no host name")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    with contextlib.suppress(OSError):  # TimeoutError included: unresolvable now is not refused
        resolve(parsed.host, port, timeout=dns_timeout)
