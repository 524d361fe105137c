"""The chat adapter's own bookkeeping (its rows, never another app's rules): sweeping what is
due - archiving closed incidents' channels, keeping on-call user groups in step with
handoffs, re-trying channels whose steps gave up, finishing inbound requests whose task was
lost, and forgetting old inbound requests."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from chat import conf, outbox
from chat.models import InboundRequest, IncidentChannel, UserGroupSync
from incidents.models import Incident
from notifications.models import Notification
from oncall import selectors as oncall_selectors

log = logging.getLogger(__name__)

INBOUND_KEEP = timedelta(days=1)  # replay refusal needs 5 minutes; a day helps to audit


def archive_due(*, now=None) -> int:
    """Closed incidents' channels, ``CHAT_ARCHIVE_AFTER_HOURS`` after close."""
    now = now or timezone.now()
    cutoff = now - timedelta(hours=conf.archive_after_hours())
    due = IncidentChannel.objects.filter(
        status=IncidentChannel.Status.ACTIVE,
        incident__status=Incident.Status.CLOSED,
        incident__closed_at__lte=cutoff,
    ).select_related("incident")[:200]
    count = 0
    with transaction.atomic():
        for channel in due:
            outbox.enqueue(
                "archive",
                f"archive:{channel.incident_id}",
                provider=channel.provider,
                subject=f"Archive #{channel.name}",
                related=channel.incident,
                incident_id=channel.incident_id,
            )
            count += 1
    return count


def sync_usergroups(*, now=None) -> int:
    """Push each configured schedule's on-call people to its user group when they changed."""
    mapping = conf.oncall_usergroups()
    if not mapping or not conf.provider():
        return 0
    now = now or timezone.now()
    current = oncall_selectors.on_call(list(mapping), now)
    synced = {row.schedule_id: row for row in UserGroupSync.objects.filter(schedule_id__in=list(mapping))}
    count = 0
    with transaction.atomic():
        for schedule_id, group in mapping.items():
            who = current.get(schedule_id)
            if who is None or who.user is None:
                continue  # nobody on call: keep the group as it is (Slack refuses an empty group)
            users = [who.user.pk]
            row = synced.get(schedule_id)
            if row is not None and row.user_ids == users and row.usergroup_id == group:
                continue
            start = who.shift.start.isoformat() if who.shift else now.isoformat()
            outbox.enqueue(
                "usergroup",
                f"usergroup:{schedule_id}:{group}:{start}:{users[0]}",
                subject=f"On-call user group of schedule {schedule_id}",
                schedule_id=schedule_id,
                usergroup_id=group,
                user_ids=users,
            )
            count += 1
    return count


def retry_stalled_channels(*, now=None) -> int:
    """A channel still pending (its steps used their attempts while the workspace was down)
    gets a new converge step every hour until it exists."""
    now = now or timezone.now()
    pending = IncidentChannel.objects.filter(
        status=IncidentChannel.Status.PENDING, created_at__lte=now - timedelta(minutes=5)
    ).select_related("incident")[:100]
    count = 0
    with transaction.atomic():
        for channel in pending:
            if Notification.objects.filter(
                channel="app", template=outbox.SENDER, related_id=str(channel.incident_id),
                status__in=[Notification.Status.PENDING, Notification.Status.SENDING],
            ).exists():  # fmt: skip
                continue
            from chat.receivers import converge_later

            converge_later(channel.incident, f"retry:{now:%Y%m%d%H}")
            count += 1
    return count


def resume_inbound(*, now=None) -> list[int]:
    """Inbound requests whose task was never run (broker down at the time)."""
    now = now or timezone.now()
    return list(
        InboundRequest.objects.filter(processed_at__isnull=True, received_at__lte=now - timedelta(seconds=30))
        .order_by("received_at")
        .values_list("pk", flat=True)[:100]
    )


def prune_inbound(*, now=None) -> int:
    now = now or timezone.now()
    deleted, _ = InboundRequest.objects.filter(received_at__lt=now - INBOUND_KEEP).delete()
    return deleted
