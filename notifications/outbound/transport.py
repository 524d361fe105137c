"""The outbound guard below httpx: network backends that check the resolved address when a
connection opens and give every socket operation at most the time left before the current
deadline; transports and clients built on them. See ``notifications.outbound``."""

from __future__ import annotations

import contextlib
import contextvars
import ssl
import time
import typing
from collections.abc import Iterable, Iterator

import httpcore
import httpx

from notifications.outbound.policy import IPAddress, Refused, aresolve, resolve

# --- Deadline ------------------------------------------------------------------------------

_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar("outbound_deadline", default=None)


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[float]:
    """Every guarded socket operation inside the block finishes by ``seconds`` from now
    (a nested deadline never extends an outer one). Yields the ``time.monotonic()`` value
    of the deadline. Works in threads and asyncio tasks alike (a context variable)."""
    until = time.monotonic() + seconds
    outer = _DEADLINE.get()
    if outer is not None:
        until = min(until, outer)
    token = _DEADLINE.set(until)
    try:
        yield until
    finally:
        _DEADLINE.reset(token)


def _budget(timeout: float | None, timeout_error: type[Exception]) -> float | None:
    """``timeout`` shortened to the time left before the current deadline; raises
    ``timeout_error`` (an httpcore timeout, mapped by httpx) once the deadline has passed."""
    until = _DEADLINE.get()
    if until is None:
        return timeout
    left = until - time.monotonic()
    if left <= 0:
        raise timeout_error("the total deadline of the request has passed")
    return left if timeout is None else min(timeout, left)


# --- Network backends: the connect-time check and the deadline, below httpx ----------------

_WRITE_CHUNK = 16384  # each socket write gets a fresh budget


class _Stream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _budget(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        for start in range(0, len(buffer), _WRITE_CHUNK):
            self._inner.write(buffer[start : start + _WRITE_CHUNK], _budget(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        budget = _budget(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.start_tls(ssl_context, server_hostname, budget))

    def get_extra_info(self, info: str) -> typing.Any:
        return self._inner.get_extra_info(info)


class _AsyncStream(httpcore.AsyncNetworkStream):
    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, _budget(timeout, httpcore.ReadTimeout))

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, _budget(timeout, httpcore.WriteTimeout))

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.AsyncNetworkStream:
        budget = _budget(timeout, httpcore.ConnectTimeout)
        return _AsyncStream(await self._inner.start_tls(ssl_context, server_hostname, budget))

    def get_extra_info(self, info: str) -> typing.Any:
        return self._inner.get_extra_info(info)


def _resolve_for_connect(host: str, port: int, timeout: float | None) -> list[IPAddress]:
    try:
        return resolve(host, port, timeout=timeout)
    except TimeoutError as exc:
        raise httpcore.ConnectTimeout(str(exc)) from exc
    except Refused:
        raise
    except OSError as exc:
        raise httpcore.ConnectError(str(exc)) from exc


class GuardedBackend(httpcore.NetworkBackend):
    """httpcore's sync backend, connecting only to checked addresses within the deadline."""

    def __init__(self, inner: httpcore.NetworkBackend | None = None) -> None:
        self._inner = inner or httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable | None = None,
    ) -> httpcore.NetworkStream:
        until = None if timeout is None else time.monotonic() + timeout
        addresses = _resolve_for_connect(host, port, _budget(timeout, httpcore.ConnectTimeout))
        error: Exception | None = None
        for ip in addresses:  # the checked addresses, in the resolver's order
            left = None if until is None else max(until - time.monotonic(), 0.001)
            try:
                stream = self._inner.connect_tcp(
                    str(ip),
                    port,
                    timeout=_budget(left, httpcore.ConnectTimeout),
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
                continue
            return _Stream(stream)
        raise typing.cast(Exception, error)

    def connect_unix_socket(self, path: str, timeout: float | None = None, socket_options=None):
        raise Refused("Unix sockets are not an outbound destination")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class AsyncGuardedBackend(httpcore.AsyncNetworkBackend):
    """``GuardedBackend`` for asyncio (httpcore's anyio backend underneath)."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable | None = None,
    ) -> httpcore.AsyncNetworkStream:
        until = None if timeout is None else time.monotonic() + timeout
        try:
            addresses = await aresolve(host, port, timeout=_budget(timeout, httpcore.ConnectTimeout))
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(str(exc)) from exc
        except Refused:
            raise
        except OSError as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        error: Exception | None = None
        for ip in addresses:
            left = None if until is None else max(until - time.monotonic(), 0.001)
            try:
                stream = await self._inner.connect_tcp(
                    str(ip),
                    port,
                    timeout=_budget(left, httpcore.ConnectTimeout),
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
                continue
            return _AsyncStream(stream)
        raise typing.cast(Exception, error)

    async def connect_unix_socket(self, path: str, timeout: float | None = None, socket_options=None):
        raise Refused("Unix sockets are not an outbound destination")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def _ssl_context(verify: ssl.SSLContext | bool) -> ssl.SSLContext:
    if isinstance(verify, ssl.SSLContext):
        return verify
    return httpx.create_ssl_context(verify=verify)  # honours SSL_CERT_FILE / SSL_CERT_DIR


class GuardedTransport(httpx.HTTPTransport):
    """``httpx.HTTPTransport`` over a connection pool that uses ``GuardedBackend``.

    httpx offers no argument for httpcore's network backend (encode/httpx discussion #3180),
    so the pool is built here and the rest of HTTPTransport (request conversion, exception
    mapping, streaming) is reused unchanged. tests/notifications/test_outbound.py fails
    loudly if an httpx upgrade stops routing requests through ``_pool``."""

    def __init__(self, *, verify: ssl.SSLContext | bool = True, limits: httpx.Limits | None = None) -> None:
        limits = limits or httpx.Limits(max_connections=20, max_keepalive_connections=10)
        self._pool = httpcore.ConnectionPool(
            ssl_context=_ssl_context(verify),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=False,
            network_backend=GuardedBackend(),
        )


class AsyncGuardedTransport(httpx.AsyncHTTPTransport):
    """``GuardedTransport`` for ``httpx.AsyncClient``."""

    def __init__(self, *, verify: ssl.SSLContext | bool = True, limits: httpx.Limits | None = None) -> None:
        limits = limits or httpx.Limits(max_connections=20, max_keepalive_connections=10)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=_ssl_context(verify),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=False,
            network_backend=AsyncGuardedBackend(),
        )


def _client_options(
    timeout: float, connect_timeout: float, keepalive: bool, max_connections: int | None, headers
) -> tuple[httpx.Limits, dict]:
    limits = httpx.Limits(
        max_connections=max_connections,
        max_keepalive_connections=(max_connections or 100) // 2 if keepalive else 0,
    )
    options = {
        "timeout": httpx.Timeout(timeout, connect=min(connect_timeout, timeout)),
        "follow_redirects": False,
        "trust_env": False,  # no environment proxy: the connect-time check must see the destination
        "headers": headers,
    }
    return limits, options


def client(
    *,
    timeout: float = 10.0,
    connect_timeout: float = 5.0,
    verify: ssl.SSLContext | bool = True,
    keepalive: bool = True,
    max_connections: int | None = 20,
    headers: dict[str, str] | None = None,
) -> httpx.Client:
    """An ``httpx.Client`` whose every connection goes through the guard: connect-time
    address check, no redirects followed, no environment proxy. ``timeout`` is per socket
    operation; the total deadline comes from ``request()`` or a ``deadline()`` block."""
    limits, options = _client_options(timeout, connect_timeout, keepalive, max_connections, headers)
    return httpx.Client(transport=GuardedTransport(verify=verify, limits=limits), **options)


def async_client(
    *,
    timeout: float = 10.0,
    connect_timeout: float = 5.0,
    verify: ssl.SSLContext | bool = True,
    keepalive: bool = True,
    max_connections: int | None = 20,
    headers: dict[str, str] | None = None,
) -> httpx.AsyncClient:
    """``client()`` for asyncio code."""
    limits, options = _client_options(timeout, connect_timeout, keepalive, max_connections, headers)
    return httpx.AsyncClient(transport=AsyncGuardedTransport(verify=verify, limits=limits), **options)
