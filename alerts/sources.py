"""Parsers: a source's request body -> ``ParsedAlert`` events. Pure Python, no ORM.

Each parser raises ``ParseError`` with a message a sender can act on; the ingestion view
stores the raw body either way (an unparsed payload is kept and its owner told).

Formats, from their published documentation:

- Alertmanager webhook, version 4: https://prometheus.io/docs/alerting/latest/configuration/#webhook_config
- Grafana alerting webhook (unified alerting):
  https://grafana.com/docs/grafana/latest/alerting/configure-notifications/manage-contact-points/integrations/webhook-notifier/
- PagerDuty Events API v2: https://developer.pagerduty.com/docs/events-api-v2/trigger-events/
  (and .../acknowledge-events/, .../resolve-events/; responses in PagerDuty/api-schema
  ``reference/events-v2/openapiv3.json``)
- Generic JSON: our own shape, docs/alerts.md.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from alerts.models import Severity

TRIGGER, ACKNOWLEDGE, RESOLVE = "trigger", "acknowledge", "resolve"
MAX_ALERTS_PER_PAYLOAD = 1000
URL_RE = re.compile(r"^https?://\S+$")


class ParseError(ValueError):
    def __init__(self, message: str, errors: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or [message]


@dataclass
class ParsedAlert:
    dedup_key: str
    action: str = TRIGGER
    severity: str = Severity.CRITICAL
    summary: str = ""
    details: str = ""
    labels: dict = field(default_factory=dict)
    annotations: dict = field(default_factory=dict)
    links: list = field(default_factory=list)
    runbook_url: str = ""
    started_at: datetime | None = None
    group_key: str = ""

    @property
    def alert_name(self) -> str:
        return str(self.labels.get("alertname", ""))


def _str_dict(value, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ParseError(f"{what} must be an object of strings.")
    return {str(k)[:200]: ("" if v is None else str(v))[:2000] for k, v in list(value.items())[:100]}


def parse_time(value, what: str = "time") -> datetime | None:
    """RFC 3339 (Alertmanager/Grafana/PagerDuty); Go's zero time (0001-01-01) counts as none."""
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ParseError(f"{what} must be an RFC 3339 string.")
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    # Go writes up to nanoseconds; Python takes microseconds.
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ParseError(f"{what} is not an RFC 3339 time: {value[:60]!r}.") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    if parsed.year < 1971:
        return None
    return parsed.astimezone(UTC)


def _url(value) -> str:
    value = (value or "").strip() if isinstance(value, str) else ""
    return value[:500] if URL_RE.match(value) else ""


def normalise_severity(value) -> str:
    text = str(value or "").strip().lower()
    aliases = {
        "critical": Severity.CRITICAL, "crit": Severity.CRITICAL, "page": Severity.CRITICAL,
        "high": Severity.CRITICAL, "p1": Severity.CRITICAL, "fatal": Severity.CRITICAL,
        "error": Severity.ERROR, "err": Severity.ERROR, "major": Severity.ERROR, "p2": Severity.ERROR,
        "warning": Severity.WARNING, "warn": Severity.WARNING, "minor": Severity.WARNING,
        "medium": Severity.WARNING, "p3": Severity.WARNING,
        "info": Severity.INFO, "informational": Severity.INFO, "low": Severity.INFO, "none": Severity.INFO,
        "p4": Severity.INFO, "p5": Severity.INFO,
    }  # fmt: skip
    return aliases.get(text, Severity.CRITICAL if not text else Severity.WARNING)


def load_json(body: bytes):
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ParseError(f"The body is not valid JSON: {exc}.") from None


def _prometheus_style(data, *, grafana: bool) -> list[ParsedAlert]:
    """Alertmanager v4 and Grafana share the envelope: alerts[] with status, labels,
    annotations, startsAt, fingerprint; groupKey groups them."""
    if not isinstance(data, dict):
        raise ParseError("The payload must be a JSON object.")
    alerts = data.get("alerts")
    if not isinstance(alerts, list):
        raise ParseError("The payload has no alerts[] list.")
    if len(alerts) > MAX_ALERTS_PER_PAYLOAD:
        raise ParseError(f"At most {MAX_ALERTS_PER_PAYLOAD} alerts per payload.")
    if not grafana and str(data.get("version", "4")) != "4":
        raise ParseError(f"Unsupported Alertmanager webhook version {data.get('version')!r} (expected 4).")
    group_key = str(data.get("groupKey") or "")[:255]
    external = _url(data.get("externalURL"))
    parsed = []
    for i, item in enumerate(alerts):
        if not isinstance(item, dict):
            raise ParseError(f"alerts[{i}] must be an object.")
        labels = _str_dict(item.get("labels"), f"alerts[{i}].labels")
        annotations = _str_dict(item.get("annotations"), f"alerts[{i}].annotations")
        status = str(item.get("status") or data.get("status") or "firing").lower()
        if status not in {"firing", "resolved"}:
            raise ParseError(f"alerts[{i}].status must be firing or resolved, not {status!r}.")
        fingerprint = str(item.get("fingerprint") or "")
        if not fingerprint:  # Alertmanager always sends it; compute one like it would
            fingerprint = hashlib.sha256(json.dumps(labels, sort_keys=True).encode()).hexdigest()[:16]
        links = []
        for key in ("generatorURL", "dashboardURL", "panelURL", "silenceURL"):
            url = _url(item.get(key))
            if url:
                links.append({"href": url, "text": key})
        if external and not grafana:
            links.append({"href": external, "text": "Alertmanager"})
        summary = (
            annotations.get("summary") or annotations.get("message") or labels.get("alertname") or fingerprint
        )
        if grafana and not annotations.get("summary") and data.get("title"):
            summary = f"{data.get('title')}"
        details = annotations.get("description", "")
        if grafana and item.get("valueString"):
            details = f"{details}\n{item['valueString']}".strip()
        parsed.append(
            ParsedAlert(
                dedup_key=fingerprint[:255],
                action=RESOLVE if status == "resolved" else TRIGGER,
                severity=normalise_severity(labels.get("severity") or ("critical" if not grafana else "")),
                summary=summary[:500],
                details=details[:10_000],
                labels=labels,
                annotations=annotations,
                links=links,
                runbook_url=_url(annotations.get("runbook_url") or annotations.get("runbook")),
                started_at=parse_time(item.get("startsAt"), f"alerts[{i}].startsAt"),
                group_key=group_key,
            )
        )
    return parsed


def parse_alertmanager(data) -> list[ParsedAlert]:
    return _prometheus_style(data, grafana=False)


def parse_grafana(data) -> list[ParsedAlert]:
    return _prometheus_style(data, grafana=True)


PD_SEVERITIES = {"critical", "error", "warning", "info"}


def parse_pagerduty(data) -> list[ParsedAlert]:
    """One event. Raises ParseError with PagerDuty's kind of error list."""
    if not isinstance(data, dict):
        raise ParseError("Event object is invalid", ["Event must be a JSON object"])
    errors = []
    action = data.get("event_action")
    if action not in {TRIGGER, ACKNOWLEDGE, RESOLVE}:
        errors.append("'event_action' is invalid (must be one of: trigger, acknowledge, resolve)")
    dedup_key = data.get("dedup_key")
    if dedup_key is not None and (not isinstance(dedup_key, str) or len(dedup_key) > 255):
        errors.append("'dedup_key' must be a string of at most 255 characters")
    if action in {ACKNOWLEDGE, RESOLVE} and not dedup_key:
        errors.append("'dedup_key' is required for acknowledge and resolve events")
    payload = data.get("payload")
    started = None
    if action == TRIGGER:
        if not isinstance(payload, dict):
            errors.append("'payload' is missing or not an object")
            payload = {}
        if not isinstance(payload.get("summary"), str) or not payload.get("summary", "").strip():
            errors.append("'payload.summary' is missing or blank")
        if not isinstance(payload.get("source"), str) or not payload.get("source", "").strip():
            errors.append("'payload.source' is missing or blank")
        if payload.get("severity") not in PD_SEVERITIES:
            errors.append("'payload.severity' is invalid (must be one of: critical, error, warning, info)")
        try:
            started = parse_time(payload.get("timestamp"), "payload.timestamp")
        except ParseError as exc:
            errors.append(exc.message)
    links = data.get("links") or []
    if not isinstance(links, list):
        errors.append("'links' must be a list")
        links = []
    if errors:
        raise ParseError("Event object is invalid", errors)
    payload = payload if isinstance(payload, dict) else {}
    custom = payload.get("custom_details")
    labels = {
        k: str(payload[k])[:200]
        for k in ("source", "component", "group", "class")
        if payload.get(k) is not None
    }
    if isinstance(custom, dict):
        labels.update({f"custom.{k}"[:200]: str(v)[:200] for k, v in list(custom.items())[:50]})
    clean_links = [
        {"href": _url(link.get("href")), "text": str(link.get("text") or "")[:200]}
        for link in links[:20]
        if isinstance(link, dict) and _url(link.get("href"))
    ]
    runbook = next((link["href"] for link in clean_links if "runbook" in link["text"].lower()), "")
    if isinstance(custom, dict) and not runbook:
        runbook = _url(custom.get("runbook_url") or custom.get("runbook"))
    return [
        ParsedAlert(
            dedup_key=dedup_key or "",
            action=action,
            severity=normalise_severity(payload.get("severity")),
            summary=str(payload.get("summary") or "")[:500],
            details=json.dumps(custom, indent=2, default=str)[:10_000] if custom is not None else "",
            labels=labels,
            links=clean_links,
            runbook_url=runbook,
            started_at=started,
        )
    ]


# --- generic JSON with a field mapping ------------------------------------------------------

GENERIC_FIELDS = ("dedup_key", "status", "severity", "summary", "details", "labels", "links", "runbook_url",
                  "started_at", "group_key")  # fmt: skip
DEFAULT_MAPPING = {name: f"$.{name}" for name in GENERIC_FIELDS}
_PATH_RE = re.compile(r"^\$((\.[A-Za-z_][A-Za-z0-9_-]*)|(\[\d+\])|(\[\"[^\"]+\"\]))*$")
_STEP_RE = re.compile(r"\.([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\]|\[\"([^\"]+)\"\]")


def validate_mapping(mapping) -> list[str]:
    """Errors of a field mapping (empty when valid)."""
    if not isinstance(mapping, dict):
        return ["The field mapping must be an object of field -> path."]
    errors = []
    for name, path in mapping.items():
        if name not in GENERIC_FIELDS:
            errors.append(f"Unknown field {name!r} (known: {', '.join(GENERIC_FIELDS)}).")
        elif not isinstance(path, str) or not _PATH_RE.match(path):
            errors.append(f'{name}: {path!r} is not a path like $.a.b[0] or $["key with spaces"].')
    return errors


def extract(data, path: str):
    """The value at a JSONPath-like ``path`` ($.a.b[0]["c d"]), or None."""
    current = data
    for match in _STEP_RE.finditer(path[1:]):
        name, index, quoted = match.groups()
        if index is not None:
            if not isinstance(current, list) or int(index) >= len(current):
                return None
            current = current[int(index)]
        else:
            if not isinstance(current, dict):
                return None
            current = current.get(name if name is not None else quoted)
    return current


STATUS_ACTIONS = {
    "firing": TRIGGER, "trigger": TRIGGER, "triggered": TRIGGER, "alerting": TRIGGER, "open": TRIGGER,
    "problem": TRIGGER, "acknowledge": ACKNOWLEDGE, "acknowledged": ACKNOWLEDGE, "ack": ACKNOWLEDGE,
    "resolved": RESOLVE, "resolve": RESOLVE, "ok": RESOLVE, "recovered": RESOLVE, "closed": RESOLVE,
}  # fmt: skip


def parse_generic(data, mapping: dict | None = None) -> list[ParsedAlert]:
    """One object, or {"alerts": [...]} of objects, each read through the mapping."""
    fields = {**DEFAULT_MAPPING, **(mapping or {})}
    if isinstance(data, dict) and isinstance(data.get("alerts"), list) and "alerts" not in (mapping or {}):
        items = data["alerts"]
    else:
        items = [data]
    if len(items) > MAX_ALERTS_PER_PAYLOAD:
        raise ParseError(f"At most {MAX_ALERTS_PER_PAYLOAD} alerts per payload.")
    parsed = []
    for i, item in enumerate(items):
        where = f"alerts[{i}]" if len(items) > 1 else "the payload"
        if not isinstance(item, dict):
            raise ParseError(f"{where} must be a JSON object.")

        def get(name, item=item):
            return extract(item, fields[name])

        summary = get("summary")
        if not isinstance(summary, str | int | float) or not str(summary).strip():
            raise ParseError(f"{where}: no summary at {fields['summary']}.")
        status = str(get("status") or "firing").strip().lower()
        if status not in STATUS_ACTIONS:
            raise ParseError(f"{where}: status {status!r} is not one of {', '.join(sorted(STATUS_ACTIONS))}.")
        labels = get("labels")
        if isinstance(labels, list):  # tags as a list of strings
            labels = {str(tag): "true" for tag in labels[:100]}
        labels = _str_dict(labels, f"{where}: labels")
        dedup = get("dedup_key")
        if dedup in (None, ""):
            dedup = hashlib.sha256(f"{summary}|{json.dumps(labels, sort_keys=True)}".encode()).hexdigest()[
                :32
            ]
        links = get("links")
        clean_links = []
        if isinstance(links, list):
            for link in links[:20]:
                href = _url(link.get("href") if isinstance(link, dict) else link)
                if href:
                    text = str(link.get("text") or "") if isinstance(link, dict) else ""
                    clean_links.append({"href": href, "text": text[:200]})
        details = get("details")
        if details is not None and not isinstance(details, str):
            details = json.dumps(details, indent=2, default=str)
        parsed.append(
            ParsedAlert(
                dedup_key=str(dedup)[:255],
                action=STATUS_ACTIONS[status],
                severity=normalise_severity(get("severity")),
                summary=str(summary).strip()[:500],
                details=(details or "")[:10_000],
                labels=labels,
                links=clean_links,
                runbook_url=_url(get("runbook_url")),
                started_at=parse_time(get("started_at"), f"{where}: started_at")
                if isinstance(get("started_at"), str)
                else None,
                group_key=str(get("group_key") or "")[:255],
            )
        )
    return parsed


# --- e-mail ---------------------------------------------------------------------------------

RESOLVED_SUBJECT = re.compile(r"^\s*(\[?(resolved|recovered|ok)\]?[:\s-])", re.IGNORECASE)
ACK_SUBJECT = re.compile(r"^\s*(\[?(acknowledged|ack)\]?[:\s-])", re.IGNORECASE)
_PREFIXES = re.compile(r"^\s*((re|fwd?|aw|\[?(resolved|recovered|ok|firing|alert|problem|acknowledged|ack)\]?)[:\s-]+)+",
                       re.IGNORECASE)  # fmt: skip
_HEADER_LINE = re.compile(
    r"^(severity|runbook|runbook_url|dedup[_-]key)\s*:\s*(.+)$", re.IGNORECASE | re.MULTILINE
)


def parse_email(subject: str, body: str, *, message_id: str = "") -> list[ParsedAlert]:
    """Subject -> summary; "RESOLVED:"/"[OK]" prefixes resolve, "ACK:" acknowledges; body
    lines ``Severity: warning``, ``Runbook: https://...``, ``Dedup-Key: x`` are read. Without
    a dedup key line the subject stripped of its prefixes is the key, so a "RESOLVED: <same
    subject>" mail resolves the alert the first mail opened."""
    subject = " ".join((subject or "").split())
    if not subject:
        raise ParseError("The e-mail has no subject.")
    action = TRIGGER
    if RESOLVED_SUBJECT.match(subject):
        action = RESOLVE
    elif ACK_SUBJECT.match(subject):
        action = ACKNOWLEDGE
    summary = _PREFIXES.sub("", subject).strip() or subject
    found = {
        m.group(1).lower().replace("-", "_"): m.group(2).strip() for m in _HEADER_LINE.finditer(body or "")
    }
    dedup = found.get("dedup_key") or hashlib.sha256(summary.lower().encode()).hexdigest()[:32]
    return [
        ParsedAlert(
            dedup_key=dedup[:255],
            action=action,
            severity=normalise_severity(found.get("severity") or "critical"),
            summary=summary[:500],
            details=(body or "")[:10_000],
            labels={"message_id": message_id[:200]} if message_id else {},
            runbook_url=_url(found.get("runbook_url") or found.get("runbook")),
        )
    ]
