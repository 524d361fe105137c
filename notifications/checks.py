"""System checks for outbound requests and delivery settings (``manage.py check``)."""

from __future__ import annotations

from django.conf import settings
from django.core import checks

from notifications import outbound


def check_outbound_settings(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """The allow-list parses, its deprecated alias is reported, and a Slack/webhook request's
    total deadline fits inside the delivery lease."""
    problems: list[checks.CheckMessage] = []
    _value, source = outbound.configured_networks()
    try:
        networks = outbound.allowed_networks()
    except (ValueError, TypeError) as exc:
        networks = ()
        problems.append(
            checks.Error(
                f"{source} is not a list of networks: {exc}",
                hint='Use CIDRs such as "10.0.0.0/8,192.168.0.0/16".',
                id="notifications.E001",
            )
        )
    if getattr(settings, outbound.DEPRECATED_SETTING, None) is not None:
        if source == outbound.DEPRECATED_SETTING:
            message = (
                f"{outbound.DEPRECATED_SETTING} is deprecated: it now governs every outbound request "
                f"(probes, Slack, webhooks). Rename it to {outbound.SETTING}."
            )
        else:
            message = (
                f"{outbound.DEPRECATED_SETTING} is ignored because {outbound.SETTING} is set; remove it."
            )
        problems.append(checks.Warning(message, id="notifications.W001"))
    for network in networks:
        if any(network.version == r.version and network.overlaps(r) for r in outbound.ALWAYS_REFUSED):
            problems.append(
                checks.Warning(
                    f"{outbound.SETTING} includes {network}, which overlaps link-local / cloud metadata "
                    "addresses: those stay refused whatever the allow-list says.",
                    id="notifications.W002",
                )
            )
    problems.extend(_check_timeout_and_lease())
    return problems


def _check_timeout_and_lease() -> list[checks.CheckMessage]:
    timeout = getattr(settings, "NOTIFICATIONS_HTTP_TIMEOUT", 10)
    lease = getattr(settings, "NOTIFICATIONS_LEASE_SECONDS", 300)
    try:
        timeout, lease = float(timeout), float(lease)
    except (TypeError, ValueError):
        return [
            checks.Error(
                "NOTIFICATIONS_HTTP_TIMEOUT and NOTIFICATIONS_LEASE_SECONDS must be numbers.",
                id="notifications.E002",
            )
        ]
    if timeout <= 0:
        return [checks.Error("NOTIFICATIONS_HTTP_TIMEOUT must be positive.", id="notifications.E002")]
    if timeout >= lease:
        return [
            checks.Error(
                f"NOTIFICATIONS_HTTP_TIMEOUT ({timeout:g} s, the total deadline of one Slack/webhook "
                f"request) must be below NOTIFICATIONS_LEASE_SECONDS ({lease:g} s): a claimed row whose "
                "request outlives its lease is taken over by another worker and sent twice.",
                hint="Lower NOTIFICATIONS_HTTP_TIMEOUT or raise NOTIFICATIONS_LEASE_SECONDS.",
                id="notifications.E003",
            )
        ]
    return []
