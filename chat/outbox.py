"""Every call the adapter makes to the chat workspace is an outbox row (``notifications``,
channel "app", sender "chat"): written in the transaction of the event that caused it, sent
after commit by the notifications worker, retried with backoff (``Retry-After`` honoured)
when the workspace answers 429/5xx or cannot be reached. Nothing here sleeps in a request.

Steps (``payload["op"]``):

``converge``  bring an incident's channel up to date: create it (once), fill the incident's
              channel link, invite who should be there, set the topic, post the pinned
              summary card or edit it in place, and post the status updates not posted yet.
              The channel row is locked for the step and every finished call is recorded at
              once, so a retried or concurrent step never creates a second channel or
              message. Every incident event enqueues one; most find nothing to do.
``page``      post a page to one person with Acknowledge / Resolve / Escalate buttons.
``page_update`` edit every message of a page in place ("Acknowledged by Ravi").
``usergroup`` set a schedule's on-call user group to who is on call.
``archive``   archive a closed incident's channel.
``respond``   answer a slash command or a click (Slack ``response_url``; Mattermost an
              ephemeral post).
"""

from __future__ import annotations

import logging

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from chat import conf, mattermost, render, slack, workspace
from chat.models import IncidentChannel, PageMessage, Provider, UserGroupSync
from chat.selectors import external_id_for
from chat.slack import ApiFailed
from incidents import services as incident_services
from incidents.models import Incident, StatusUpdate
from notifications import channels
from notifications import services as notifications
from oncall.models import Page

log = logging.getLogger(__name__)

SENDER = "chat"
UPDATES_PER_STEP = 20  # status updates posted by one converge step (older ones first)


def register() -> None:
    channels.register_app_sender(SENDER, send)


def enqueue(op: str, key: str, *, subject: str, related=None, provider: str | None = None, **args):
    """Record step ``op`` (unique per ``key``) for the configured workspace; no-op when chat is off."""
    provider = provider or conf.provider()
    if not provider:
        return None
    return notifications.enqueue_call(
        sender=SENDER,
        idempotency_key=f"chat:{provider}:{key}"[:255],
        subject=subject,
        payload={"op": op, "provider": provider, **args},
        address=f"{provider}:{op}",
        related=related,
    )


def send(notification) -> channels.Result:
    payload = dict(notification.payload)
    op = payload.pop("op", "")
    provider = payload.pop("provider", "")
    ws = workspace.current(provider)
    step = STEPS.get(op)
    if ws is None or step is None:
        return channels.Result.permanent_failure(f"unknown chat step {op!r} for {provider!r}")
    try:
        return step(ws, **payload) or channels.Result.sent(200)
    except ApiFailed as exc:
        return exc.result


# --- converge ---------------------------------------------------------------------------------


def _wanted_members(incident: Incident) -> list:
    """Commander, declarer, acknowledger, the people paged for the incident and the followers."""
    from chat.selectors import paged_users

    people = [incident.commander, incident.declared_by, incident.acknowledged_by, *paged_users(incident)]
    users = [u for u in dict.fromkeys(p for p in people if p is not None) if u.is_active and u.email]
    return [u.email for u in users] + conf.followers()


def converge(ws, *, incident_id: int) -> channels.Result | None:
    with transaction.atomic():
        channel = (
            IncidentChannel.objects.select_for_update(skip_locked=True)
            .filter(incident_id=incident_id, provider=ws.provider)
            .first()
        )
        if channel is None:
            if IncidentChannel.objects.filter(incident_id=incident_id, provider=ws.provider).exists():
                # Another worker is converging this channel right now: come back shortly.
                return channels.Result.transient("channel busy", retry_after=2)
            return None
        if channel.status == IncidentChannel.Status.ARCHIVED:
            return None
        try:
            _converge(ws, channel)
        except ApiFailed as exc:
            channel.save()  # keep what was done: the retry continues from there
            return exc.result
        channel.save()
    return None


def _converge(ws, channel: IncidentChannel) -> None:
    incident = Incident.objects.select_related("severity", "commander", "acknowledged_by").get(
        pk=channel.incident_id
    )
    if not channel.channel_id:
        channel_id, name = ws.create_channel(channel.name)
        channel.channel_id, channel.name = channel_id, name
        channel.url = ws.channel_url(channel_id, name)
        channel.status = IncidentChannel.Status.ACTIVE
        channel.save()  # recorded before anything else can fail
        incident_services.link_chat_channel(incident=incident, url=channel.url, name=name)
    members = set(channel.members)
    missing = []
    for email in _wanted_members(incident):
        external = external_id_for(ws, email)
        if external and external not in members and external not in missing:
            missing.append(external)
    if missing:
        ws.invite(channel.channel_id, missing)
        channel.members = sorted(members | set(missing))
    topic = render.topic(incident)
    if topic != channel.topic:
        ws.set_topic(channel.channel_id, topic)
        channel.topic = topic
    card = render.card(incident)
    digest = render.digest(card)
    if not channel.card_ts:
        _, channel.card_ts = ws.post(channel.channel_id, card)
        channel.card_digest = digest
        channel.save()
    elif digest != channel.card_digest:
        ws.update(channel.channel_id, channel.card_ts, card)
        channel.card_digest = digest
    if not channel.card_pinned:
        ws.pin(channel.channel_id, channel.card_ts)
        channel.card_pinned = True
    _post_updates(ws, channel, incident)
    if channel.ready_at is None:
        channel.ready_at = timezone.now()


def _post_updates(ws, channel: IncidentChannel, incident: Incident) -> None:
    """Status updates posted in the portal after the channel was set up, oldest first."""
    posted = set(channel.posted_updates)
    pending = (
        StatusUpdate.objects.filter(incident=incident, posted_at__gte=channel.created_at)
        .exclude(pk__in=posted)
        .select_related("author")
        .order_by("posted_at", "pk")[:UPDATES_PER_STEP]
    )
    for update in pending:
        ws.post(channel.channel_id, render.status_update(update))
        channel.posted_updates = [*channel.posted_updates, update.pk]
        channel.save(update_fields=["posted_updates", "members", "topic", "card_digest", "card_pinned"])


# --- pages ------------------------------------------------------------------------------------


def page(ws, *, page_id: int, user_id: int) -> channels.Result | None:
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    the_page = (
        Page.objects.select_related("service", "acknowledged_by", "resolved_by").filter(pk=page_id).first()
    )
    if user is None or the_page is None or not user.email or not the_page.is_open:
        return None
    if PageMessage.objects.filter(page=the_page, user=user, provider=ws.provider).exists():
        # A later round notifies again: the same message is edited (it shows the state).
        return page_update(ws, page_id=page_id)
    external = external_id_for(ws, user.email)
    if external is None:
        return None  # not in the workspace: e-mail and the other channels still reach them
    channel_id, ts = ws.post(ws.direct_channel(external), render.page(the_page, recipient=external))
    PageMessage.objects.get_or_create(
        provider=ws.provider,
        channel_id=channel_id,
        ts=ts,
        defaults={"page": the_page, "user": user, "external_user_id": external},
    )
    return None


def page_update(ws, *, page_id: int) -> channels.Result | None:
    the_page = (
        Page.objects.select_related("service", "acknowledged_by", "resolved_by").filter(pk=page_id).first()
    )
    if the_page is None:
        return None
    for row in PageMessage.objects.filter(page=the_page, provider=ws.provider).order_by("pk"):
        ws.update(row.channel_id, row.ts, render.page(the_page, recipient=row.external_user_id))
    return None


# --- user groups, archive, responses ----------------------------------------------------------


def usergroup(ws, *, schedule_id: int, usergroup_id: str, user_ids: list[int]) -> channels.Result | None:
    users = get_user_model().objects.in_bulk(user_ids)
    external = [e for u in users.values() if u.email and (e := external_id_for(ws, u.email))]
    if not external:
        return channels.Result.permanent_failure("nobody on call has a workspace account")
    ws.set_usergroup(usergroup_id, sorted(set(external)))
    UserGroupSync.objects.update_or_create(
        schedule_id=schedule_id,
        defaults={"usergroup_id": usergroup_id, "user_ids": sorted(user_ids), "synced_at": timezone.now()},
    )
    return None


def archive(ws, *, incident_id: int) -> channels.Result | None:
    with transaction.atomic():
        channel = (
            IncidentChannel.objects.select_for_update()
            .filter(incident_id=incident_id, provider=ws.provider, status=IncidentChannel.Status.ACTIVE)
            .first()
        )
        if channel is None:
            return None
        ws.archive(channel.channel_id)
        channel.status = IncidentChannel.Status.ARCHIVED
        channel.archived_at = timezone.now()
        channel.save(update_fields=["status", "archived_at"])
    return None


def respond(
    ws, *, response_url: str = "", text: str, user: str = "", channel: str = ""
) -> channels.Result | None:
    """Slack and Mattermost slash commands (and Slack clicks) carry a ``response_url`` that
    takes ``{"response_type": "ephemeral", "text": ...}``; a Mattermost button click has none,
    so its answer is an ephemeral post (``POST /api/v4/posts/ephemeral``)."""
    if response_url:
        slack.respond(response_url, {"response_type": "ephemeral", "replace_original": False, "text": text})
    elif ws.provider == Provider.MATTERMOST and user and channel:
        mattermost.call(
            "POST", "posts/ephemeral", {"user_id": user, "post": {"channel_id": channel, "message": text}}
        )
    return None


STEPS = {
    "converge": converge,
    "page": page,
    "page_update": page_update,
    "usergroup": usergroup,
    "archive": archive,
    "respond": respond,
}
