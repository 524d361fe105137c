"""SSRF guard: which addresses a probe may connect to.

The check runs on the *resolved* address, at connect time: the engine resolves a name once,
checks every address it got, and connects to that very IP (keeping the Host header and the
TLS server name), so a DNS answer that changes between check and connect (rebinding) cannot
slip a private address in. Redirects are followed by hand and each hop is checked again.

Rules, in order:
1. link-local and cloud metadata addresses are always refused (169.254.0.0/16, fe80::/10,
   fd00:ec2::254, 100.100.100.200), whatever ``PROBE_ALLOWED_NETWORKS`` says;
2. addresses inside ``PROBE_ALLOWED_NETWORKS`` are allowed;
3. otherwise only globally routable (public) addresses are allowed.

``PROBE_ALLOWED_NETWORKS`` (a list of CIDRs) defaults to none in production; with DEBUG on it
defaults to loopback so the demo can probe the portal's own /healthz.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from functools import lru_cache

from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ALWAYS_REFUSED = tuple(
    ipaddress.ip_network(n)
    for n in ("169.254.0.0/16", "fe80::/10", "fd00:ec2::254/128", "100.100.100.200/32", "0.0.0.0/8", "::/128")
)
DEBUG_DEFAULT_NETWORKS = ("127.0.0.0/8", "::1/128")


class Refused(Exception):
    """The target address is not allowed (message says why, without leaking more)."""


@lru_cache(maxsize=8)
def _parse(networks: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(n, strict=False) for n in networks)


def allowed_networks() -> tuple:
    configured = getattr(settings, "PROBE_ALLOWED_NETWORKS", None)
    if configured is None:
        configured = DEBUG_DEFAULT_NETWORKS if settings.DEBUG else ()
    if isinstance(configured, str):
        configured = [part.strip() for part in configured.split(",") if part.strip()]
    return _parse(tuple(configured))


def _normalise(ip: IPAddress) -> IPAddress:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def check_address(address: str | IPAddress) -> IPAddress:
    """Return the address if a probe may connect to it, else raise ``Refused``."""
    ip = _normalise(ipaddress.ip_address(address) if isinstance(address, str) else address)
    if any(ip in net for net in ALWAYS_REFUSED):
        raise Refused(f"address {ip} is link-local or a cloud metadata address (always refused)")
    if any(ip.version == net.version and ip in net for net in allowed_networks()):
        return ip
    if not ip.is_global:
        raise Refused(f"address {ip} is not public and not in PROBE_ALLOWED_NETWORKS")
    return ip


async def resolve(host: str, port: int) -> IPAddress:
    """Resolve ``host`` once and return the first address, refusing if any answer is not
    allowed (a name that mixes public and private answers is refused as a whole)."""
    host = host.strip("[]")
    try:
        return check_address(host)
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise OSError(f"DNS lookup for {host} failed: {exc.strerror or exc}") from exc
    addresses = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        ip = ipaddress.ip_address(sockaddr[0].split("%")[0])
        if ip not in addresses:
            addresses.append(ip)
    if not addresses:
        raise OSError(f"DNS lookup for {host} returned no address")
    for ip in addresses:
        try:
            check_address(ip)
        except Refused as exc:
            raise Refused(f"{host} resolves to {exc}") from None
    return _normalise(addresses[0])


def validate_target_host(host: str) -> None:
    """Save-time check for literal IPs (names are checked again at every connect)."""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return
    check_address(host.strip("[]"))
