"""Reads for the chat adapter: who a chat user is, which incident a channel belongs to."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from chat import conf
from chat.models import Identity, IncidentChannel
from incidents.models import Incident
from oncall.models import Page, PageEvent

UNMAPPED_TTL = timedelta(minutes=5)  # someone who just fixed their e-mail should not wait a day


def _fresh(identity: Identity) -> bool:
    ttl = timedelta(seconds=conf.identity_ttl_seconds()) if identity.user_id else UNMAPPED_TTL
    return identity.checked_at >= timezone.now() - ttl


def portal_user_by_email(email: str):
    """The one active account with this e-mail address (None when none or ambiguous)."""
    if not email:
        return None
    users = list(get_user_model().objects.filter(email__iexact=email.strip(), is_active=True)[:2])
    return users[0] if len(users) == 1 else None


def external_id_for(ws, email: str) -> str | None:
    """The workspace's user id for an e-mail address (cached for CHAT_IDENTITY_TTL_SECONDS)."""
    cached = (
        Identity.objects.filter(provider=ws.provider, email__iexact=email).order_by("-checked_at").first()
    )
    if cached is not None and _fresh(cached):
        return cached.external_id
    external = ws.lookup_user(email)
    if external is None:
        return None
    Identity.objects.update_or_create(
        provider=ws.provider,
        external_id=external,
        defaults={"email": email, "user": portal_user_by_email(email), "checked_at": timezone.now()},
    )
    return external


def portal_user_for(ws, external_id: str):
    """The portal account of a chat user, mapped by the e-mail address the workspace has
    verified (Slack: ``users.info`` with ``is_email_confirmed``). None: not mapped - the
    caller answers with an explanation and acts as nobody."""
    cached = (
        Identity.objects.filter(provider=ws.provider, external_id=external_id).select_related("user").first()
    )
    if cached is not None and _fresh(cached):
        return cached.user if cached.user and cached.user.is_active else None
    email = ws.user_email(external_id)
    user = portal_user_by_email(email) if email else None
    Identity.objects.update_or_create(
        provider=ws.provider,
        external_id=external_id,
        defaults={"email": email or "", "user": user, "checked_at": timezone.now()},
    )
    return user


def incident_for_channel(provider: str, channel_id: str) -> Incident | None:
    row = (
        IncidentChannel.objects.filter(provider=provider, channel_id=channel_id)
        .select_related("incident", "incident__severity")
        .first()
    )
    return row.incident if row else None


def paged_users(incident: Incident) -> list:
    """People the incident's pages notified (they are invited to its channel)."""
    page_type = ContentType.objects.get_for_model(Incident)
    page_ids = Page.objects.filter(subject_type=page_type, subject_id=str(incident.pk)).values("pk")
    users = (
        PageEvent.objects.filter(page__in=page_ids, kind=PageEvent.Kind.NOTIFIED, user__isnull=False)
        .select_related("user")
        .order_by("at", "pk")[:50]
    )
    return list(dict.fromkeys(event.user for event in users))


def page_incident(page: Page) -> Incident | None:
    if page.subject_type_id != ContentType.objects.get_for_model(Incident).pk or not page.subject_id:
        return None
    return Incident.objects.filter(pk=page.subject_id).first()
