"""The one outbound-request guard: every request the portal makes to an address someone typed
in (HTTP probes, TLS/TCP probes, Slack and webhook contact methods, and whatever comes next:
Prometheus queries, importers, the Slack API) goes through this package. Import it as
``from notifications import outbound``; its modules are ``policy`` (which addresses, DNS),
``transport`` (httpcore backends and httpx clients that enforce it) and ``exchange`` (one
request under a total deadline).

What it guarantees
------------------
1. **Only allowed addresses, checked at connect time.** A name is resolved when the
   connection is opened, *every* address it resolves to is checked, and the socket is opened
   to one of those checked addresses - never to a second lookup's answer, so DNS rebinding
   (public at save time, 127.0.0.1 at send time) cannot slip through. The URL keeps its host
   name, so TLS server name and certificate checks are unchanged. Rules, in order:

   - link-local and cloud metadata addresses (169.254.0.0/16, fe80::/10, fd00:ec2::254,
     100.100.100.200) and "this host" (0.0.0.0/8, ::) are **always** refused, also when
     they are embedded in an IPv6 address (IPv4-mapped, NAT64, 6to4, Teredo);
   - addresses inside ``OUTBOUND_ALLOWED_NETWORKS`` are allowed;
   - otherwise only globally routable (public) addresses are allowed.

   ``OUTBOUND_ALLOWED_NETWORKS`` is a list of CIDRs (or a comma-separated string). Unset, it
   is empty in production and loopback (127.0.0.0/8, ::1/128) with ``DEBUG`` on, so the
   demo can probe the portal's own /healthz. ``PROBE_ALLOWED_NETWORKS`` is its deprecated
   alias, read only when ``OUTBOUND_ALLOWED_NETWORKS`` is unset (system check
   ``notifications.W001``).
2. **No redirects, no proxies from the environment.** Clients never follow a redirect (a 3xx
   is the answer; a caller that follows one by hand - HTTP probes - sends a new request that
   is checked again) and ignore ``HTTP(S)_PROXY`` (a proxy would make the connect-time check
   check the proxy, not the destination).
3. **A total deadline per request.** httpx's timeouts apply to each socket operation, so a
   server that answers one byte every two seconds keeps a 10 s "timeout" request open
   forever. Inside ``deadline(seconds)`` (which ``request``/``arequest`` set for you) every
   step - DNS, connect, TLS handshake, each write and each read - gets at most the time left
   until the deadline, so the whole exchange (connect + send + the whole answer) ends by it.

Public API
----------
``request(client, method, url, *, total_timeout, max_body=..., **kwargs) -> Answer`` and
``arequest(...)``: one guarded exchange; the body is read (at most ``max_body`` bytes)
within the deadline. Raises ``Refused`` (not allowed: nothing was sent), ``DeadlineExceeded``
(an ``httpx.TimeoutException``; carries the status code when the answer had begun), or any
other ``httpx.HTTPError``.

``client(...)`` / ``async_client(...)``: httpx clients whose connections go through the guard.
Used directly (``client.get(url)``) they check addresses and refuse redirects, but their
timeouts are per socket operation: wrap such calls in ``deadline(seconds)``, or use
``request``/``arequest``, to get the total deadline.

``check_address(ip)``, ``allowed_networks()``: the policy, without I/O.
``resolve(host, port)`` / ``aresolve(host, port)``: every address of a name, checked.
``validate_url(url)``: the save-time check for a destination URL.
``excerpt(text)``: a short, control-character-free piece of an answer, safe for a log.
"""

from notifications.outbound.exchange import (
    DEFAULT_MAX_BODY,
    Answer,
    DeadlineExceeded,
    arequest,
    excerpt,
    request,
)
from notifications.outbound.policy import (
    ALWAYS_REFUSED,
    DEBUG_DEFAULT_NETWORKS,
    DEPRECATED_SETTING,
    SETTING,
    Refused,
    UnsupportedURL,
    allowed_networks,
    aresolve,
    check_address,
    configured_networks,
    is_allowed,
    literal_address,
    resolve,
    validate_url,
)
from notifications.outbound.transport import (
    AsyncGuardedBackend,
    AsyncGuardedTransport,
    GuardedBackend,
    GuardedTransport,
    async_client,
    client,
    deadline,
)

__all__ = [
    "ALWAYS_REFUSED",
    "DEBUG_DEFAULT_NETWORKS",
    "DEFAULT_MAX_BODY",
    "DEPRECATED_SETTING",
    "SETTING",
    "Answer",
    "AsyncGuardedBackend",
    "AsyncGuardedTransport",
    "DeadlineExceeded",
    "GuardedBackend",
    "GuardedTransport",
    "Refused",
    "UnsupportedURL",
    "allowed_networks",
    "arequest",
    "aresolve",
    "async_client",
    "check_address",
    "client",
    "configured_networks",
    "deadline",
    "excerpt",
    "is_allowed",
    "literal_address",
    "request",
    "resolve",
    "validate_url",
]
