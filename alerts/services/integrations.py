"""Alert integrations: the secret key (shown once, stored as a SHA-256 digest), validation of
an integration's routing rules, severity map and field mapping, parsing a request body by the
integration's kind, and routing a parsed alert (which rule, which urgency, explained in words).

Writes (create, update, rotate, revoke, delete) check ``permissions.can_manage_integrations``;
ingestion and the group's life are in ``alerts.services``.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from alerts import permissions, sources
from alerts.models import DEFAULT_SEVERITY_MAP, AlertGroup, Integration, Severity, Urgency
from catalog.models import Service
from incidents.models import Severity as IncidentSeverity
from oncall import selectors as oncall_selectors
from oncall.models import EscalationPolicy
from opsportal.errors import Conflict, InvalidInput, NotAllowed
from opsportal.links import absolute_url

KEY_BYTES = 20  # 160 bits, hex: safe in a URL path and as an e-mail local part

# --- integrations -----------------------------------------------------------------------------


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _new_key() -> tuple[str, str, str]:
    key = secrets.token_hex(KEY_BYTES)
    return key, digest(key), key[:6]


def integration_for_key(key: str) -> Integration | None:
    """The active integration of ``key`` (unknown, malformed or revoked: None)."""
    if not key or len(key) > 100:
        return None
    return (
        Integration.objects.select_related("service")
        .filter(key_digest=digest(key.strip().lower()), revoked_at__isnull=True)
        .first()
    )


def ingest_path(key: str, kind: str) -> str:
    suffix = {Integration.Kind.PAGERDUTY: "v2/enqueue"}.get(kind, kind)
    return f"/integrations/{key}/{suffix}"


def ingest_url(key: str, kind: str) -> str:
    return absolute_url(ingest_path(key, kind))


def email_address(key: str) -> str:
    return f"{key}@{settings.ALERTS_EMAIL_DOMAIN}"


RULE_KEYS = {"match", "urgency", "service", "policy", "incident_severity", "name"}


def validate_integration(integration: Integration) -> None:
    """Rules, severity map, field mapping and group-by, each refused with its field named."""
    if integration.kind not in Integration.Kind.values:
        raise InvalidInput("Choose a kind.", field="kind")
    if not (integration.name or "").strip():
        raise InvalidInput("Give the integration a name.", field="name")
    smap = integration.severity_map
    if not isinstance(smap, dict):
        raise InvalidInput("The severity map must be an object of severity -> urgency.", field="severity_map")
    for sev, urgency in smap.items():
        if sev not in Severity.values:
            raise InvalidInput(
                f"Unknown severity {sev!r} (known: {', '.join(Severity.values)}).", field="severity_map"
            )
        if urgency not in Urgency.values:
            raise InvalidInput(
                f"Unknown urgency {urgency!r} (known: {', '.join(Urgency.values)}).", field="severity_map"
            )
        if urgency == Urgency.INCIDENT and not integration.incident_severity:
            raise InvalidInput("Urgency 'incident' needs an incident severity.", field="incident_severity")
    if (
        integration.incident_severity
        and not IncidentSeverity.objects.filter(level=integration.incident_severity).exists()
    ):
        raise InvalidInput(f"There is no SEV-{integration.incident_severity}.", field="incident_severity")
    rules = integration.rules
    if not isinstance(rules, list):
        raise InvalidInput("Routing rules must be a list of objects.", field="rules")
    for n, rule in enumerate(rules, start=1):
        _validate_rule(n, rule, integration)
    if integration.kind == Integration.Kind.GENERIC:
        errors = sources.validate_mapping(integration.field_mapping or {})
        if errors:
            raise InvalidInput(" ".join(errors), field="field_mapping")
    elif integration.field_mapping:
        raise InvalidInput("A field mapping is for generic JSON integrations only.", field="field_mapping")
    labels = [part.strip() for part in (integration.group_by or "").split(",") if part.strip()]
    if any(not label.replace("_", "").replace(".", "").replace("-", "").isalnum() for label in labels):
        raise InvalidInput("Group by: label names separated by commas.", field="group_by")
    integration.group_by = ",".join(labels)
    if integration.rate_limit_per_minute < 1:
        raise InvalidInput("The rate limit must be at least 1 per minute.", field="rate_limit_per_minute")
    if integration.storm_threshold < 1:
        raise InvalidInput("The storm threshold must be at least 1.", field="storm_threshold")


def _validate_rule(n: int, rule, integration: Integration) -> None:
    where = f"Rule {n}"
    if not isinstance(rule, dict):
        raise InvalidInput(f"{where} must be an object.", field="rules")
    unknown = set(rule) - RULE_KEYS
    if unknown:
        raise InvalidInput(f"{where}: unknown keys {', '.join(sorted(unknown))}.", field="rules")
    match = rule.get("match", {})
    if not isinstance(match, dict) or set(match) - {"severity", "labels", "summary_contains"}:
        raise InvalidInput(f"{where}: match takes severity, labels and summary_contains.", field="rules")
    sev = match.get("severity")
    for value in sev if isinstance(sev, list) else ([sev] if sev is not None else []):
        if value not in Severity.values:
            raise InvalidInput(f"{where}: unknown severity {value!r}.", field="rules")
    labels = match.get("labels", {})
    if not isinstance(labels, dict) or not all(
        isinstance(v, str) or (isinstance(v, list) and all(isinstance(x, str) for x in v))
        for v in labels.values()
    ):
        raise InvalidInput(f"{where}: labels must map names to a value or a list of values.", field="rules")
    urgency = rule.get("urgency")
    if urgency is not None and urgency not in Urgency.values:
        raise InvalidInput(f"{where}: urgency must be one of {', '.join(Urgency.values)}.", field="rules")
    level = rule.get("incident_severity")
    if level is not None and (
        not isinstance(level, int) or not IncidentSeverity.objects.filter(level=level).exists()
    ):
        raise InvalidInput(f"{where}: there is no SEV-{level}.", field="rules")
    if urgency == Urgency.INCIDENT and not (level or integration.incident_severity):
        raise InvalidInput(f"{where}: urgency 'incident' needs an incident severity.", field="rules")
    for name, model in (("service", Service), ("policy", EscalationPolicy)):
        value = rule.get(name)
        if value is not None and (not isinstance(value, int) or not model.objects.filter(pk=value).exists()):
            raise InvalidInput(f"{where}: no {name} with id {value!r}.", field="rules")


CONFIG_FIELDS = ("name", "kind", "rules", "severity_map", "incident_severity", "group_by", "field_mapping",
                 "rate_limit_per_minute", "storm_threshold")  # fmt: skip


@transaction.atomic
def create_integration(*, actor, service: Service, **fields) -> tuple[Integration, str]:
    """A new integration and its key, returned once (only its digest is stored)."""
    if actor is not None and not permissions.can_manage_integrations(actor):
        raise NotAllowed("Only engineering managers set up alert integrations.")
    integration = Integration(service=service, created_by=actor)
    for name, value in fields.items():
        if name not in CONFIG_FIELDS:
            raise InvalidInput(f"Unknown field {name}.")
        setattr(integration, name, value)
    validate_integration(integration)
    if Integration.objects.filter(service=service, name=integration.name).exists():
        raise InvalidInput("This service already has an integration with this name.", field="name")
    key, integration.key_digest, integration.key_hint = _new_key()
    integration.save()
    return integration, key


@transaction.atomic
def update_integration(*, integration: Integration, actor, **fields) -> Integration:
    if actor is not None and not permissions.can_manage_integrations(actor):
        raise NotAllowed("Only engineering managers change alert integrations.")
    locked = Integration.objects.select_for_update().get(pk=integration.pk)
    for name, value in fields.items():
        if name not in (*CONFIG_FIELDS, "service"):
            raise InvalidInput(f"Unknown field {name}.")
        setattr(locked, name, value)
    validate_integration(locked)
    if Integration.objects.filter(service=locked.service, name=locked.name).exclude(pk=locked.pk).exists():
        raise InvalidInput("This service already has an integration with this name.", field="name")
    locked.save()
    return locked


@transaction.atomic
def rotate_key(*, integration: Integration, actor) -> str:
    """A new key; the old one stops working at once. Returned once."""
    if actor is not None and not permissions.can_manage_integrations(actor):
        raise NotAllowed("Only engineering managers rotate integration keys.")
    locked = Integration.objects.select_for_update().get(pk=integration.pk)
    if locked.revoked_at is not None:
        raise Conflict("This integration is revoked; create a new one.")
    key, locked.key_digest, locked.key_hint = _new_key()
    locked.rotated_at = timezone.now()
    locked.save(update_fields=["key_digest", "key_hint", "rotated_at"])
    return key


@transaction.atomic
def revoke_integration(*, integration: Integration, actor) -> Integration:
    if actor is not None and not permissions.can_manage_integrations(actor):
        raise NotAllowed("Only engineering managers revoke integrations.")
    locked = Integration.objects.select_for_update().get(pk=integration.pk)
    if locked.revoked_at is not None:
        raise Conflict(f"Already revoked at {locked.revoked_at:%Y-%m-%d %H:%M} UTC.")
    locked.revoked_at = timezone.now()
    locked.save(update_fields=["revoked_at"])
    return locked


@transaction.atomic
def delete_integration(*, integration: Integration, actor) -> None:
    """Removes its alerts, groups and payloads too (revoking keeps them)."""
    if actor is not None and not permissions.can_manage_integrations(actor):
        raise NotAllowed("Only engineering managers delete integrations.")
    if AlertGroup.objects.filter(integration=integration, status__in=AlertGroup.OPEN).exists():
        raise Conflict(
            "The integration has open alert groups: resolve them or revoke the integration instead."
        )
    Integration.objects.filter(pk=integration.pk).delete()


def try_sample(*, integration: Integration, body: bytes) -> tuple[list[sources.ParsedAlert], list[str]]:
    """Parse a sample and route each alert, writing nothing: the admin's "test with this
    sample" button. Returns the parsed alerts and the routing decision of each."""
    parsed = parse(integration, body)
    return parsed, [route(integration, p).explanation for p in parsed]


# --- parsing and routing ----------------------------------------------------------------------


def parse(integration: Integration, body: bytes) -> list[sources.ParsedAlert]:
    data = sources.load_json(body)
    kind = integration.kind
    if kind == Integration.Kind.ALERTMANAGER:
        return sources.parse_alertmanager(data)
    if kind == Integration.Kind.GRAFANA:
        return sources.parse_grafana(data)
    if kind == Integration.Kind.PAGERDUTY:
        return sources.parse_pagerduty(data)
    if kind == Integration.Kind.GENERIC:
        return sources.parse_generic(data, integration.field_mapping)
    raise sources.ParseError("E-mail integrations take mail, not HTTP requests.")


@dataclass
class Decision:
    urgency: str
    service: Service
    policy: EscalationPolicy | None
    incident_severity: int | None
    explanation: str


def _matches(match: dict, p: sources.ParsedAlert) -> list[str] | None:
    """The conditions that matched (for the explanation), or None."""
    said = []
    sev = match.get("severity")
    if sev is not None:
        wanted = sev if isinstance(sev, list) else [sev]
        if p.severity not in wanted:
            return None
        said.append(f"severity={p.severity}")
    for name, value in (match.get("labels") or {}).items():
        wanted = value if isinstance(value, list) else [value]
        have = p.labels.get(name)
        if have is None or ("*" not in wanted and have not in wanted):
            return None
        said.append(f"{name}={have}")
    text = match.get("summary_contains")
    if text:
        if str(text).lower() not in p.summary.lower():
            return None
        said.append(f"summary contains {text!r}")
    return said


def _urgency_text(urgency: str, service: Service, policy: EscalationPolicy | None, level: int | None) -> str:
    if urgency in (Urgency.PAGE, Urgency.INCIDENT):
        who = policy or oncall_selectors.policy_for_service(service)
        target = f"page {who.name}" if who else f"page {service.name} (no escalation policy: notify its team)"
        return f"{target} + incident SEV-{level}" if urgency == Urgency.INCIDENT else target
    return {
        Urgency.NOTIFY: f"notify {service.name}'s team",
        Urgency.RECORD: "record only",
        Urgency.DROP: "drop",
    }[urgency]


def route(integration: Integration, p: sources.ParsedAlert) -> Decision:
    """First matching rule, else the severity map, else the defaults; explained in words."""
    smap = {**DEFAULT_SEVERITY_MAP, **(integration.severity_map or {})}
    for n, rule in enumerate(integration.rules or [], start=1):
        said = _matches(rule.get("match") or {}, p)
        if said is None:
            continue
        urgency = rule.get("urgency") or smap.get(p.severity, Urgency.PAGE)
        service = integration.service
        if rule.get("service"):
            service = Service.objects.filter(pk=rule["service"]).first() or service
        policy = EscalationPolicy.objects.filter(pk=rule["policy"]).first() if rule.get("policy") else None
        level = rule.get("incident_severity") or integration.incident_severity
        name = f" ({rule['name']})" if rule.get("name") else ""
        condition = ", ".join(said) or "always"
        text = f"matched rule {n}{name}: {condition} -> {_urgency_text(urgency, service, policy, level)}"
        return Decision(urgency, service, policy, level, text)
    urgency = smap.get(p.severity, Urgency.PAGE)
    level = integration.incident_severity
    text = (
        f"no rule matched; severity {p.severity} -> "
        f"{_urgency_text(urgency, integration.service, None, level)} (severity mapping)"
    )
    return Decision(urgency, integration.service, None, level, text)


def group_key(integration: Integration, p: sources.ParsedAlert) -> str:
    labels = [name for name in (integration.group_by or "").split(",") if name]
    if labels:
        return "labels:" + "|".join(f"{name}={p.labels.get(name, '')}" for name in labels)[:240]
    if p.group_key:
        return f"group:{p.group_key}"[:255]
    return f"alert:{p.dedup_key}"[:255]
