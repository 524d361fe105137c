"""One guarded exchange under a total deadline, and what of an answer may reach a log.
See ``notifications.outbound``."""

from __future__ import annotations

import re
import time
import zlib
from dataclasses import dataclass

import httpx

from notifications.outbound.transport import deadline

DEFAULT_MAX_BODY = 1_048_576


class DeadlineExceeded(httpx.TimeoutException):
    """The request did not complete within its total deadline. ``status_code`` and
    ``headers`` are set when the answer had begun (status line and headers received)."""

    def __init__(
        self,
        total: float,
        *,
        status_code: int | None = None,
        headers: httpx.Headers | None = None,
        request: httpx.Request | None = None,
    ) -> None:
        super().__init__(f"no complete answer within {total:g} s", request=request)
        self.total = total
        self.status_code = status_code
        self.headers = headers


# --- One exchange under a total deadline -----------------------------------------------------


@dataclass(frozen=True)
class Answer:
    status_code: int
    headers: httpx.Headers
    content: bytes  # the decoded body, at most max_body bytes
    truncated: bool  # the body was longer than max_body (the rest was not read)
    elapsed: float  # seconds, connect to last byte read

    @property
    def text(self) -> str:
        charset = httpx.Response(self.status_code, headers=self.headers).charset_encoding or "utf-8"
        try:
            return self.content.decode(charset, errors="replace")
        except LookupError:
            return self.content.decode("utf-8", errors="replace")

    def excerpt(self, limit: int = 200) -> str:
        return excerpt(self.text, limit)


class _Body:
    """Collects up to ``cap`` decoded bytes. gzip/deflate are inflated with a bound on the
    output (a small compressed answer cannot expand into gigabytes); other encodings are
    kept as received."""

    def __init__(self, headers: httpx.Headers, cap: int) -> None:
        self.cap = cap
        self.parts: list[bytes] = []
        self.size = 0
        self.truncated = False
        encoding = headers.get("content-encoding", "").strip().lower()
        # wbits MAX_WBITS | 32: zlib or gzip framing, detected from the header
        self._inflate = (
            zlib.decompressobj(zlib.MAX_WBITS | 32) if encoding in ("gzip", "x-gzip", "deflate") else None
        )

    def feed(self, chunk: bytes) -> bool:
        """Add a raw chunk; False once the cap is reached (stop reading)."""
        if self._inflate is not None:
            try:
                chunk = self._inflate.decompress(chunk, self.cap - self.size + 1)
            except zlib.error as exc:
                raise httpx.DecodingError(f"cannot decode the answer: {exc}") from None
        self.parts.append(chunk)
        self.size += len(chunk)
        if self.size > self.cap:
            self.truncated = True
            return False
        return True

    @property
    def content(self) -> bytes:
        return b"".join(self.parts)[: self.cap]


def _expired(until: float) -> bool:
    # A socket timeout set to "the time left" may wake a hair before the deadline.
    return time.monotonic() >= until - 0.01


def _request_timeout(total: float, connect: float | None) -> httpx.Timeout:
    return httpx.Timeout(total, connect=min(connect or total, total))


def request(
    client: httpx.Client,
    method: str,
    url: str | httpx.URL,
    *,
    total_timeout: float,
    connect_timeout: float | None = 5.0,
    max_body: int = DEFAULT_MAX_BODY,
    **kwargs,
) -> Answer:
    """Send one request through a guarded ``client`` and read its answer, all within
    ``total_timeout`` seconds (DNS, connect, TLS, sending, status, headers and body).

    ``kwargs`` go to ``client.build_request`` (``content``, ``json``, ``headers``...).
    At most ``max_body`` bytes of the body are read; a longer body is cut (``truncated``)
    and its connection closed. Redirects are returned as answers, never followed.
    """
    started = time.monotonic()
    with deadline(total_timeout) as until:
        req = client.build_request(
            method, url, timeout=_request_timeout(total_timeout, connect_timeout), **kwargs
        )
        try:
            response = client.send(req, stream=True)
        except httpx.TimeoutException as exc:
            if _expired(until):
                raise DeadlineExceeded(total_timeout, request=req) from exc
            raise
        try:
            body = _Body(response.headers, max_body)
            for chunk in response.iter_raw():
                if not body.feed(chunk):
                    break
                if _expired(until):
                    raise httpx.ReadTimeout("the total deadline of the request has passed", request=req)
        except httpx.TimeoutException as exc:
            raise DeadlineExceeded(
                total_timeout, status_code=response.status_code, headers=response.headers, request=req
            ) from exc
        finally:
            response.close()
    return Answer(
        response.status_code, response.headers, body.content, body.truncated, time.monotonic() - started
    )


async def arequest(
    client: httpx.AsyncClient,
    method: str,
    url: str | httpx.URL,
    *,
    total_timeout: float,
    connect_timeout: float | None = 5.0,
    max_body: int = DEFAULT_MAX_BODY,
    **kwargs,
) -> Answer:
    """``request`` for asyncio code (an ``async_client()``)."""
    started = time.monotonic()
    with deadline(total_timeout) as until:
        req = client.build_request(
            method, url, timeout=_request_timeout(total_timeout, connect_timeout), **kwargs
        )
        try:
            response = await client.send(req, stream=True)
        except httpx.TimeoutException as exc:
            if _expired(until):
                raise DeadlineExceeded(total_timeout, request=req) from exc
            raise
        try:
            body = _Body(response.headers, max_body)
            async for chunk in response.aiter_raw():
                if not body.feed(chunk):
                    break
                if _expired(until):
                    raise httpx.ReadTimeout("the total deadline of the request has passed", request=req)
        except httpx.TimeoutException as exc:
            raise DeadlineExceeded(
                total_timeout, status_code=response.status_code, headers=response.headers, request=req
            ) from exc
        finally:
            await response.aclose()
    return Answer(
        response.status_code, response.headers, body.content, body.truncated, time.monotonic() - started
    )


# --- Logging what a destination said -------------------------------------------------------

# C0/C1 controls (ANSI escapes, NUL, bell...) and invisible format characters (zero-width,
# bidi overrides) that could disguise a log line; whitespace is collapsed separately.
_INVISIBLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")


def excerpt(text: str | bytes, limit: int = 200) -> str:
    """At most ``limit`` characters of what a destination sent, on one line, with control
    and invisible characters removed: safe to store in a log and show in the admin."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    text = " ".join(_INVISIBLE.sub("", text).split())
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"
