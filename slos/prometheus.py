"""Reading SLIs from Prometheus: range queries through the one outbound guard.

Each Prometheus SLO has two PromQL expressions that evaluate to *cumulative counts* (a counter
or a sum of counters: ``sum(http_requests_total{job="checkout",code!~"5.."})`` and
``sum(http_requests_total{job="checkout"})``). The portal asks for both over a range with a
60 s step (``/api/v1/query_range``, Prometheus HTTP API docs) and takes per-minute
differences itself: the events of minute [m, m+1) are ``count(m+1) - count(m)``; a drop is a
counter reset (the count after it is the increase); a missing value is a minute without data.
Differences instead of ``increase()`` keep the arithmetic exact (no extrapolation).
"""

from __future__ import annotations

import itertools
import json
import math
from datetime import UTC, datetime, timedelta

import httpx

from notifications import outbound
from slos import conf
from slos.engine import floor_minute

MAX_POINTS = 10_000  # Prometheus refuses more than 11,000 points per series and query


class PrometheusError(Exception):
    pass


_client: httpx.Client | None = None


def _http() -> httpx.Client:
    global _client
    if _client is None:
        _client = outbound.client(timeout=conf.prometheus_timeout())
    return _client


def range_query(query: str, start: datetime, end: datetime, step: int) -> dict[datetime, float]:
    """timestamp -> value (several series are summed). Raises PrometheusError."""
    base = conf.prometheus_url()
    if not base:
        raise PrometheusError("PROMETHEUS_URL is not set.")
    headers = {"Accept": "application/json"}
    token = conf.prometheus_token()
    if token:
        headers["Authorization"] = f"Bearer {token}"
    out: dict[datetime, float] = {}
    chunk = timedelta(seconds=step * (MAX_POINTS - 1))
    cursor = start
    while cursor <= end:
        stop = min(end, cursor + chunk)
        params = {"query": query, "start": cursor.timestamp(), "end": stop.timestamp(), "step": f"{step}s"}
        try:
            answer = outbound.request(
                _http(), "GET", f"{base}/api/v1/query_range", params=params, headers=headers,
                total_timeout=conf.prometheus_timeout(), max_body=64 * 1024 * 1024,
            )  # fmt: skip
        except outbound.Refused as exc:
            raise PrometheusError(f"Prometheus address refused by the outbound guard: {exc}") from exc
        except httpx.HTTPError as exc:
            raise PrometheusError(f"Prometheus unreachable: {exc.__class__.__name__}: {exc}") from exc
        if answer.truncated:
            raise PrometheusError("Prometheus's answer is larger than 64 MiB: narrow the query.")
        try:
            body = json.loads(answer.content)
            if not isinstance(body, dict):
                raise ValueError("not an object")
        except ValueError as exc:
            raise PrometheusError(
                f"Prometheus answered {answer.status_code} without JSON: {answer.excerpt()}"
            ) from exc
        if answer.status_code != 200 or body.get("status") != "success":
            raise PrometheusError(
                f"Prometheus answered {answer.status_code}: {body.get('errorType', '')} {body.get('error', '')}".strip()
            )
        data = body.get("data") or {}
        if data.get("resultType") != "matrix":
            raise PrometheusError(f"Expected a matrix from a range query, got {data.get('resultType')!r}.")
        for series in data.get("result") or []:
            for ts, value in series.get("values") or []:
                v = float(value)
                if math.isnan(v) or math.isinf(v):
                    continue
                at = datetime.fromtimestamp(float(ts), tz=UTC)
                out[at] = out.get(at, 0.0) + v
        cursor = stop + timedelta(seconds=step)
    return out


MAX_GAP = timedelta(minutes=15)


def increases(counts: dict[datetime, float], start: datetime, end: datetime) -> dict[datetime, int]:
    """Per-minute increases of a cumulative count: between two consecutive values (at most
    15 minutes apart; a longer gap is no data) the increase (a drop is a reset: the later value)
    is spread evenly over the minutes between them, the remainder on the last. Minutes
    outside [start, end) are dropped."""
    out: dict[datetime, int] = {}
    points = sorted(counts.items())
    for (t1, v1), (t2, v2) in itertools.pairwise(points):
        if t2 - t1 > MAX_GAP:
            continue
        delta = round(v2 - v1 if v2 >= v1 else v2)
        first, last = floor_minute(t1), floor_minute(t2)
        span = max(1, int((last - first).total_seconds() // 60))
        share, rest = divmod(delta, span)
        for i in range(span):
            m = first + timedelta(minutes=i)
            if start <= m < end:
                out[m] = out.get(m, 0) + share + (rest if i == span - 1 else 0)
    return out


def minutes(
    good_query: str, total_query: str, start: datetime, end: datetime
) -> dict[datetime, tuple[int, int]]:
    """minute -> (good, total) for [start, end) read from Prometheus (one range query per
    expression, from one step before ``start`` so the first minute has its left value)."""
    step = conf.prometheus_step()
    since = start - timedelta(seconds=step)
    good = increases(range_query(good_query, since, end, step), start, end)
    total = increases(range_query(total_query, since, end, step), start, end)
    out = {}
    for m, t in total.items():
        g = good.get(m)
        if g is None or t <= 0:
            continue
        out[m] = (min(max(g, 0), t), t)
    return out
