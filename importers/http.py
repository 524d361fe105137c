"""Talking to a source: every request through the one outbound guard
(``notifications.outbound``), pagination left to each reader, and the polite parts shared:
``Retry-After`` on 429, a few retries with back-off on 5xx and network errors, and a clear
``SourceError`` (never a traceback) for 401/403/404 and anything still failing.

An export directory of the same JSON is read through the same interface (``ExportDir``):
``get(path, params)`` returns what the API would have answered for that request.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode

import httpx
from django.conf import settings

from notifications import outbound

MAX_ATTEMPTS = 5
MAX_RETRY_AFTER = 60.0  # seconds: a source asking for longer makes the run fail with a report line
TOTAL_TIMEOUT = 30.0


class SourceError(Exception):
    """The source refused or failed: the message is a report line."""


class SourceClient:
    def __init__(
        self,
        base_url: str,
        headers: dict[str, str],
        *,
        sleep: Callable[[float], None] = time.sleep,
        verify=True,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.headers = headers
        self.sleep = sleep
        self.requests = 0
        self.retries_after_429 = 0
        self._client = outbound.client(headers=headers, verify=verify)

    def close(self) -> None:
        self._client.close()

    def url(self, path: str, params: dict | list | None = None) -> str:
        url = path if path.startswith(("http://", "https://")) else f"{self.base_url}/{path.lstrip('/')}"
        if params:
            url += ("&" if "?" in url else "?") + urlencode(params, doseq=True)
        return url

    def get(self, path: str, params: dict | list | None = None):
        url = self.url(path, params)
        wait = 1.0
        for attempt in range(1, MAX_ATTEMPTS + 1):
            self.requests += 1
            try:
                answer = outbound.request(
                    self._client, "GET", url, total_timeout=TOTAL_TIMEOUT, max_body=20_000_000
                )
            except outbound.Refused as exc:
                raise SourceError(f"{url}: refused by the outbound guard ({exc})") from None
            except httpx.HTTPError as exc:
                if attempt == MAX_ATTEMPTS:
                    raise SourceError(f"{url}: no answer after {attempt} attempts ({exc})") from None
                self.sleep(wait)
                wait *= 2
                continue
            status = answer.status_code
            if status == 429:
                delay = _retry_after(answer.headers.get("Retry-After"), default=wait)
                if delay > MAX_RETRY_AFTER or attempt == MAX_ATTEMPTS:
                    raise SourceError(f"{url}: rate limited (429), Retry-After {delay:g} s; try again later")
                self.retries_after_429 += 1
                self.sleep(delay)
                continue
            if status >= 500:
                if attempt == MAX_ATTEMPTS:
                    raise SourceError(f"{url}: the source failed ({status}) {attempt} times")
                self.sleep(wait)
                wait *= 2
                continue
            if status in (401, 403):
                raise SourceError(
                    f"{url}: the source refused the API key ({status}): check the key and its scopes"
                )
            if status >= 300:
                raise SourceError(f"{url}: unexpected answer {status}: {answer.excerpt()}")
            try:
                return json.loads(answer.content)
            except ValueError:
                raise SourceError(f"{url}: the answer is not JSON: {answer.excerpt()}") from None
        raise SourceError(f"{url}: gave up")  # pragma: no cover - the loop returns or raises


def _retry_after(value: str | None, *, default: float) -> float:
    try:
        return max(0.0, float(value)) if value is not None else default
    except ValueError:
        return default


class ExportDir:
    """An export directory: ``<path with / as __>.json`` per request path (query ignored except
    ``page`` files are not needed: each file holds the whole collection in the API's shape)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.requests = 0
        self.retries_after_429 = 0

    def close(self) -> None:
        pass

    def get(self, path: str, params: dict | list | None = None):
        name = path.split("?", 1)[0].strip("/").replace("/", "__") + ".json"
        file = self.root / name
        self.requests += 1
        if not file.is_file():
            raise SourceError(f"export directory {self.root}: {name} is missing")
        try:
            return json.loads(file.read_text())
        except ValueError as exc:
            raise SourceError(f"export directory {self.root}: {name} is not JSON ({exc})") from None


def api_key(source: str, given: str = "", key_file: str = "") -> str:
    """The key given, else read from ``key_file``, else ``IMPORT_<SOURCE>_API_KEY`` (settings or
    environment)."""
    if given:
        return given.strip()
    if key_file:
        try:
            return Path(key_file).read_text().strip()
        except OSError as exc:
            raise SourceError(f"cannot read the API key file {key_file}: {exc.strerror}") from None
    name = f"IMPORT_{source.upper().replace('-', '_')}_API_KEY"
    value = _CONFIGURED_KEYS.get(name, lambda: "")()
    if not value:
        raise SourceError(f"no API key: give one, or set {name}")
    return value


# Each source's key from settings or the environment, spelled out so the configuration reference
# check (devtools/docs_config.py) sees every name.
_CONFIGURED_KEYS = {
    "IMPORT_PAGERDUTY_API_KEY": lambda: (
        getattr(settings, "IMPORT_PAGERDUTY_API_KEY", "") or os.environ.get("IMPORT_PAGERDUTY_API_KEY", "")
    ),
    "IMPORT_OPSGENIE_API_KEY": lambda: (
        getattr(settings, "IMPORT_OPSGENIE_API_KEY", "") or os.environ.get("IMPORT_OPSGENIE_API_KEY", "")
    ),
    "IMPORT_GRAFANA_ONCALL_API_KEY": lambda: (
        getattr(settings, "IMPORT_GRAFANA_ONCALL_API_KEY", "")
        or os.environ.get("IMPORT_GRAFANA_ONCALL_API_KEY", "")
    ),
}
