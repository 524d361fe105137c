"""How the adapter hears about portal events (layer 6 listens; the layers below never import it).

Every incident state change writes a ``TimelineEvent`` and every page step a ``PageEvent``,
each in the transaction of the change (incidents/services.py, oncall/services.py). Their
``post_save`` is therefore the one place that sees every door (admin, API, pages, Slack,
automation); the receivers below only write outbox rows in that same transaction - the
step itself runs after commit, through the notifications worker. Off when CHAT_PROVIDER is
unset (one attribute read per event).
"""

from __future__ import annotations

from django.db.models.signals import post_save

from chat import conf, outbox, render
from chat.models import IncidentChannel
from incidents.models import TimelineEvent
from oncall.models import PageEvent
from opsportal.quiet import is_quiet

PAGE_STATE_KINDS = {PageEvent.Kind.ACKNOWLEDGED, PageEvent.Kind.RESOLVED, PageEvent.Kind.ESCALATED}


def connect() -> None:
    post_save.connect(on_timeline_event, sender=TimelineEvent, dispatch_uid="chat.timeline")
    post_save.connect(on_page_event, sender=PageEvent, dispatch_uid="chat.page_event")


def ensure_channel(incident) -> IncidentChannel | None:
    """The pending channel row of an incident (created once); None when chat is off."""
    provider = conf.provider()
    if not provider:
        return None
    channel, _ = IncidentChannel.objects.get_or_create(
        incident=incident, defaults={"provider": provider, "name": render.channel_name(incident)}
    )
    return channel


def converge_later(incident, key: str) -> None:
    outbox.enqueue(
        "converge",
        f"converge:{incident.pk}:{key}",
        subject=f"Bring the channel of {incident.reference} up to date",
        related=incident,
        incident_id=incident.pk,
    )


def on_timeline_event(sender, instance: TimelineEvent, created: bool, raw: bool = False, **kwargs) -> None:
    # quiet(): history being imported (demo, importers) - no channels for past incidents
    if raw or not created or not conf.provider() or is_quiet():
        return
    incident = instance.incident
    if instance.kind == TimelineEvent.Kind.DECLARED:
        ensure_channel(incident)
    elif not IncidentChannel.objects.filter(incident=incident).exclude(status="archived").exists():
        return
    converge_later(incident, f"e{instance.pk}")


def on_page_event(sender, instance: PageEvent, created: bool, raw: bool = False, **kwargs) -> None:
    if raw or not created or not conf.provider() or is_quiet():
        return
    page = instance.page
    if instance.kind == PageEvent.Kind.NOTIFIED and instance.user_id:
        outbox.enqueue(
            "page",
            f"page:{instance.pk}",
            subject=f"Page {page.pk} to user {instance.user_id}",
            related=page,
            page_id=page.pk,
            user_id=instance.user_id,
        )
        from chat.selectors import page_incident

        incident = page_incident(page)
        if incident is not None and IncidentChannel.objects.filter(incident=incident).exists():
            converge_later(incident, f"p{instance.pk}")  # invite the paged responder
    elif instance.kind in PAGE_STATE_KINDS:
        outbox.enqueue(
            "page_update",
            f"page_update:{instance.pk}",
            subject=f"Update page {page.pk}",
            related=page,
            page_id=page.pk,
        )
