"""Reminder rule for TLS certificates (run by the reminders sweep).

``probes.tls_expiring``: a TLS probe whose certificate expires within 21, 7 or 1 days -> the
service's owner team (manager and team mailing list), once per threshold. The object key
includes the expiry date, so a renewed certificate starts a fresh cycle; after a gap only the
latest threshold reached is sent (no 21-day notice when 7 days are left).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from opsportal.links import absolute_url
from probes.models import Probe
from reminders.registry import EffectiveConfig, Reminder, Rule

THRESHOLDS_DAYS = (21, 7, 1)  # stage 1, 2, 3


class TlsExpiringRule(Rule):
    def due(self, *, now: datetime, config: EffectiveConfig):
        horizon = now + timedelta(days=THRESHOLDS_DAYS[0])
        probes = (
            Probe.objects.filter(
                kind=Probe.Kind.TLS, cert_expires_at__isnull=False, cert_expires_at__lte=horizon
            )
            .exclude(state=Probe.State.PAUSED)
            .select_related("service__owner_team__manager")
        )
        for probe in probes:
            reached = [
                (stage, days)
                for stage, days in enumerate(THRESHOLDS_DAYS, start=1)
                if probe.cert_expires_at - timedelta(days=days) <= now
            ]
            stage, days = reached[-1]
            team = probe.service.owner_team
            recipients = [team.manager] if team.manager and team.manager.is_active else []
            if team.email:
                recipients.append(team.email)
            if not recipients:
                continue
            left = probe.cert_expires_at - now
            url = absolute_url(probe.get_absolute_url())
            yield Reminder(
                object_key=f"probes.cert:{probe.pk}:{probe.cert_expires_at:%Y-%m-%d}",
                due_point=probe.cert_expires_at - timedelta(days=days),
                recipients=recipients,
                template="reminders/generic",
                stage=stage,
                context={
                    "title": (
                        f"TLS certificate of {probe.service.name} expired"
                        if left <= timedelta(0)
                        else f"TLS certificate of {probe.service.name} expires in {max(left.days, 0)} day(s)"
                    ),
                    "url": url,
                    "fields": [
                        ["Probe", probe.name],
                        ["Expires", f"{probe.cert_expires_at:%Y-%m-%d %H:%M} UTC"],
                        ["Issuer", probe.cert_issuer or "-"],
                    ],
                    "actions": [["Open the probe", url]],
                },
                related=probe,
            )


RULES = [
    TlsExpiringRule(
        key="probes.tls_expiring",
        title="TLS certificate expiring",
        description="Tells the service's owner team (manager and mailing list) 21, 7 and 1 days before expiry.",
        paging=False,
    ),
]
