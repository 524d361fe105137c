"""Every change to what customers see, and the subscriber lifecycle.

E-mail subscription is double opt-in: ``request_subscription`` answers the same way
whatever state the address is in (no "is this address subscribed" oracle) and sends a
signed confirmation link through the notifications outbox; every update e-mail carries a
signed one-click unsubscribe link."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from incidents import services as incident_services
from incidents.models import Incident, StatusUpdate
from notifications.services import notify
from opsportal.errors import Conflict, InvalidInput, NotAllowed
from opsportal.links import absolute_reverse
from opsportal.text import refuse_control_characters
from status import permissions
from status.models import (
    Component,
    ComponentStatus,
    PublicIncident,
    ScheduledMaintenance,
    Subscriber,
    UpdateDispatch,
)

log = logging.getLogger(__name__)

TOKEN_SALT = "status.subscription"  # noqa: S105 (a signing namespace, not a secret)
CONFIRM_MAX_AGE = timedelta(days=3)
# A confirmation mail is re-sent to the same address at most this often (mail-bombing guard).
RESEND_INTERVAL = timedelta(minutes=10)
# Updates older than this when the fan-out first sees them are not mailed (e.g. history
# imported, or the app installed on a portal with years of incidents).
DISPATCH_WINDOW = timedelta(hours=24)


# ---------------------------------------------------------------------------------------
# Components and publishing control
# ---------------------------------------------------------------------------------------
def ensure_public_incidents(*, incident_ids: Iterable[int]) -> None:
    """Give incidents their PublicIncident row (public by default). Idempotent."""
    ids = set(incident_ids)
    if not ids:
        return
    have = set(PublicIncident.objects.filter(incident_id__in=ids).values_list("incident_id", flat=True))
    missing = [PublicIncident(incident_id=i) for i in ids - have]
    if missing:
        PublicIncident.objects.bulk_create(missing, ignore_conflicts=True)


@transaction.atomic
def save_component(
    *,
    actor,
    service,
    name: str,
    group: str = "",
    order: int = 100,
    description: str = "",
    public: bool = True,
    uptime_slo=None,
) -> Component:
    """Create or update the public face of ``service``. ``uptime_slo``: an SLO of the same
    service whose SLI gives the uptime shown (None: raw probe results)."""
    if not permissions.can_publish(actor):
        raise NotAllowed("Only engineering managers configure status page components.")
    name = (name or "").strip()
    if not name:
        raise InvalidInput("Give the component a customer-facing name.", field="name")
    for field, value in (("name", name), ("group", group), ("description", description)):
        refuse_control_characters(value, field=field)
    component = Component.objects.select_for_update().filter(service=service).first() or Component(
        service=service
    )
    component.name = name
    component.group = (group or "").strip()
    component.order = order
    component.description = (description or "").strip()
    component.public = public
    if uptime_slo is not None and uptime_slo.service_id != service.pk:
        raise InvalidInput("The uptime SLO must be one of the component's service.", field="uptime_slo")
    component.uptime_slo = uptime_slo
    component._change_reason = "Component saved"
    component.save()
    return component


@transaction.atomic
def set_override(*, component: Component, actor, status: str, reason: str = "") -> Component:
    """Show ``status`` instead of the derived one (empty ``status`` goes back to deriving).
    Recorded in the component's history with who, when and why."""
    if not permissions.can_override(actor):
        raise NotAllowed("Only responders and engineering managers can override a component's status.")
    if status and status not in ComponentStatus.values:
        raise InvalidInput(f"Unknown component status {status!r}.", field="override_status")
    reason = (reason or "").strip()
    if status and not reason:
        raise InvalidInput("Say why the status is overridden.", field="override_reason")
    refuse_control_characters(reason, field="override_reason")
    component = Component.objects.select_for_update().get(pk=component.pk)
    if status == component.override_status and reason == component.override_reason:
        return component
    component.override_status = status
    component.override_reason = reason if status else ""
    component.override_by = actor if status else None
    component.override_at = timezone.now() if status else None
    component._change_reason = (
        f"Override: {ComponentStatus(status).label} ({reason})"
        if status
        else f"Override cleared{': ' + reason if reason else ''}"
    )
    component._history_user = actor
    component.save()
    return component


@transaction.atomic
def set_incident_public(
    *, incident: Incident, actor, public: bool, public_title: str | None = None
) -> PublicIncident:
    """Show or hide ``incident`` (and optionally its customer-facing title) on the status page."""
    if not permissions.can_publish(actor):
        raise NotAllowed("Only engineering managers decide whether an incident is public.")
    refuse_control_characters(public_title, field="public_title")
    ensure_public_incidents(incident_ids=[incident.pk])
    record = PublicIncident.objects.select_for_update().get(incident=incident)
    record.public = public
    if public_title is not None:
        record.public_title = public_title.strip()
    record.changed_by = actor
    record.changed_at = timezone.now()
    record._history_user = actor
    record.save()
    return record


@transaction.atomic
def publish_incident(*, incident: Incident, actor, public_title: str, message: str) -> PublicIncident:
    """A person publishes ``incident`` on the status page: the title customers read and what
    they should know (the customer message support uses too). Both are required: until both
    exist nothing of the incident is public (``status.selectors.public_incidents``)."""
    if not permissions.can_publish(actor):
        raise NotAllowed("Only engineering managers publish incidents on the status page.")
    title = (public_title or "").strip()
    if not title:
        raise InvalidInput("Write the title customers will read.", field="public_title")
    if len(title) > PublicIncident._meta.get_field("public_title").max_length:
        raise InvalidInput("Keep the public title under 200 characters.", field="public_title")
    text = (message or "").strip()
    if not text:
        raise InvalidInput("Write what customers should know.", field="message")
    if incident.drill:
        raise Conflict(f"{incident.reference} is a drill: drills are never public.")
    incident_services.set_customer_message(incident=incident, actor=actor, text=text)
    return set_incident_public(incident=incident, actor=actor, public=True, public_title=title)


@transaction.atomic
def schedule_maintenance(
    *,
    actor,
    title: str,
    starts_at: datetime,
    ends_at: datetime,
    components: Iterable[Component],
    description: str = "",
) -> ScheduledMaintenance:
    if not permissions.can_override(actor):
        raise NotAllowed("Only responders and engineering managers announce maintenance.")
    title = (title or "").strip()
    if not title:
        raise InvalidInput("Give the maintenance a title.", field="title")
    refuse_control_characters(title, field="title")
    refuse_control_characters(description, field="description")
    if not starts_at or not ends_at or ends_at <= starts_at:
        raise InvalidInput("Maintenance must end after it starts.", field="ends_at")
    components = list(components)
    if not components:
        raise InvalidInput("Pick the affected components.", field="components")
    maintenance = ScheduledMaintenance.objects.create(
        title=title,
        description=(description or "").strip(),
        starts_at=starts_at,
        ends_at=ends_at,
        created_by=actor,
    )
    maintenance.components.set(components)
    return maintenance


@transaction.atomic
def cancel_maintenance(*, maintenance: ScheduledMaintenance, actor) -> ScheduledMaintenance:
    if not permissions.can_override(actor):
        raise NotAllowed("Only responders and engineering managers cancel maintenance.")
    maintenance = ScheduledMaintenance.objects.select_for_update().get(pk=maintenance.pk)
    if not maintenance.cancelled:
        maintenance.cancelled = True
        maintenance.save(update_fields=["cancelled"])
    return maintenance


@transaction.atomic
def update_maintenance(
    *,
    maintenance: ScheduledMaintenance,
    actor,
    title: str,
    starts_at: datetime,
    ends_at: datetime,
    components: Iterable[Component],
    description: str = "",
    cancelled: bool | None = None,
) -> ScheduledMaintenance:
    """Edit an announced window (text, times, components); ``cancelled=True`` cancels it
    (the same rules as ``cancel_maintenance``). A cancelled window is not un-cancelled:
    announce a new one."""
    if not permissions.can_override(actor):
        raise NotAllowed("Only responders and engineering managers change maintenance.")
    locked = ScheduledMaintenance.objects.select_for_update().get(pk=maintenance.pk)
    if locked.cancelled and cancelled is False:
        raise Conflict("A cancelled maintenance stays cancelled: announce a new one.", field="cancelled")
    title = (title or "").strip()
    if not title:
        raise InvalidInput("Give the maintenance a title.", field="title")
    if not starts_at or not ends_at or ends_at <= starts_at:
        raise InvalidInput("Maintenance must end after it starts.", field="ends_at")
    components = list(components)
    if not components:
        raise InvalidInput("Pick the affected components.", field="components")
    locked.title, locked.description = title, (description or "").strip()
    locked.starts_at, locked.ends_at = starts_at, ends_at
    if cancelled:
        locked.cancelled = True
    locked._history_user = actor
    locked.save()
    locked.components.set(components)
    return locked


@transaction.atomic
def delete_maintenance(*, maintenance: ScheduledMaintenance, actor) -> None:
    if not permissions.can_override(actor):
        raise NotAllowed("Only responders and engineering managers remove maintenance.")
    maintenance.delete()


@transaction.atomic
def delete_component(*, component: Component, actor) -> None:
    if not permissions.can_publish(actor):
        raise NotAllowed("Only engineering managers configure status page components.")
    component.delete()


@transaction.atomic
def delete_subscriber(*, subscriber: Subscriber, actor) -> None:
    """Erase a subscriber's address (e.g. on request); they can subscribe again."""
    if not permissions.can_publish(actor):
        raise NotAllowed("Only engineering managers remove subscribers.")
    subscriber.delete()


# ---------------------------------------------------------------------------------------
# Subscriptions
# ---------------------------------------------------------------------------------------
def make_token(subscriber: Subscriber, action: str) -> str:
    return signing.dumps(
        {"s": subscriber.pk, "n": subscriber.nonce, "a": action}, salt=TOKEN_SALT, compress=True
    )


def _read_token(token: str, action: str, *, max_age: timedelta | None) -> Subscriber | None:
    try:
        data = signing.loads(token, salt=TOKEN_SALT, max_age=max_age)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    if not isinstance(data, dict) or data.get("a") != action:
        return None
    subscriber = Subscriber.objects.select_for_update().filter(pk=data.get("s")).first()
    if subscriber is None or subscriber.nonce != data.get("n"):
        return None
    return subscriber


def unsubscribe_url(subscriber: Subscriber) -> str:
    return absolute_reverse("status:unsubscribe", token=make_token(subscriber, "unsubscribe"))


def normalise_email(email: str) -> str:
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise InvalidInput("Enter a valid e-mail address.", field="email") from None
    if len(email) > 254:
        raise InvalidInput("Enter a valid e-mail address.", field="email")
    return email


@transaction.atomic
def request_subscription(*, email: str, now: datetime | None = None) -> None:
    """Start (or restart) a subscription. Returns nothing whatever the address's state, so
    the caller cannot tell subscribed from unknown addresses; only the mailbox owner learns
    anything (a confirmation link, at most once per RESEND_INTERVAL)."""
    email = normalise_email(email)
    now = now or timezone.now()
    Subscriber.objects.bulk_create([Subscriber(email=email)], ignore_conflicts=True)
    subscriber = Subscriber.objects.select_for_update().get(email=email)
    if subscriber.state == Subscriber.State.CONFIRMED:
        return
    if subscriber.state == Subscriber.State.UNSUBSCRIBED:
        # Coming back: a fresh opt-in, old links die with the old nonce.
        subscriber.state = Subscriber.State.PENDING
        subscriber.nonce = Subscriber._meta.get_field("nonce").default()
    elif subscriber.confirmation_sent_at and now - subscriber.confirmation_sent_at < RESEND_INTERVAL:
        return
    subscriber.confirmations_sent += 1
    subscriber.confirmation_sent_at = now
    subscriber.save()
    confirm = absolute_reverse("status:confirm", token=make_token(subscriber, "confirm"))
    notify(
        recipients=[subscriber.email],
        kind="update",
        template="status/confirm",
        context={
            "title": "Confirm your status updates subscription",
            "url": confirm,
            "status_url": absolute_reverse("status:index"),
            "actions": [["Confirm subscription", confirm]],
        },
        idempotency_key=f"status:confirm:{subscriber.pk}:{subscriber.confirmations_sent}",
    )


@transaction.atomic
def confirm_subscription(*, token: str) -> Subscriber | None:
    """Second step of the opt-in; None when the link is invalid or expired."""
    subscriber = _read_token(token, "confirm", max_age=CONFIRM_MAX_AGE)
    if subscriber is None:
        return None
    if subscriber.state != Subscriber.State.CONFIRMED:
        subscriber.state = Subscriber.State.CONFIRMED
        subscriber.confirmed_at = timezone.now()
        subscriber.unsubscribed_at = None
        subscriber.save()
    return subscriber


@transaction.atomic
def unsubscribe(*, token: str) -> Subscriber | None:
    """One-click unsubscribe; idempotent. None when the link is invalid."""
    subscriber = _read_token(token, "unsubscribe", max_age=None)
    if subscriber is None:
        return None
    if subscriber.state != Subscriber.State.UNSUBSCRIBED:
        subscriber.state = Subscriber.State.UNSUBSCRIBED
        subscriber.unsubscribed_at = timezone.now()
        subscriber.save()
    return subscriber


# ---------------------------------------------------------------------------------------
# Fan-out of external updates
# ---------------------------------------------------------------------------------------
def _publishable(update: StatusUpdate) -> bool:
    from status.selectors import public_incidents

    return public_incidents().filter(pk=update.incident_id).exists()


def dispatch_update(*, update_id: int, now: datetime | None = None) -> UpdateDispatch | None:
    """Mail one external update to every confirmed subscriber, once. Safe to run twice and
    concurrently: the UpdateDispatch row is the claim, each mail has an idempotency key."""
    now = now or timezone.now()
    try:
        with transaction.atomic():
            update = (
                StatusUpdate.objects.select_related("incident")
                .filter(pk=update_id, audience=StatusUpdate.Audience.EXTERNAL)
                .first()
            )
            if update is None or UpdateDispatch.objects.filter(update_id=update_id).exists():
                return None
            sendable = now - update.posted_at <= DISPATCH_WINDOW and _publishable(update)
            dispatch = UpdateDispatch.objects.create(update=update, sent=sendable, dispatched_at=now)
            if not sendable:
                return dispatch
            from status.selectors import ensure_public_records

            ensure_public_records([update.incident_id])
            record = PublicIncident.objects.get(incident_id=update.incident_id)
            title = record.public_title
            url = absolute_reverse("status:incident", public_id=record.public_id)
            count = 0
            for subscriber in Subscriber.objects.filter(state=Subscriber.State.CONFIRMED).iterator(
                chunk_size=500
            ):
                unsub = unsubscribe_url(subscriber)
                notify(
                    recipients=[subscriber.email],
                    kind="update",
                    template="status/update",
                    context={
                        "title": title,
                        "url": url,
                        "status": update.get_status_display(),
                        "body": update.text,
                        "posted_at": update.posted_at.strftime("%Y-%m-%d %H:%M UTC"),
                        "unsubscribe_url": unsub,
                        "actions": [["View incident", url], ["Unsubscribe", unsub]],
                    },
                    idempotency_key=f"status:update:{update.pk}:{subscriber.pk}",
                )
                count += 1
            dispatch.recipients = count
            dispatch.save(update_fields=["recipients"])
            return dispatch
    except IntegrityError:  # another worker claimed it first
        return None


def dispatch_pending(*, now: datetime | None = None) -> int:
    """Sweep: external updates of the last DISPATCH_WINDOW not handled yet. Returns count."""
    now = now or timezone.now()
    ids = list(
        StatusUpdate.objects.filter(
            audience=StatusUpdate.Audience.EXTERNAL, posted_at__gte=now - DISPATCH_WINDOW
        )
        .exclude(pk__in=UpdateDispatch.objects.values("update_id"))
        .order_by("posted_at")
        .values_list("pk", flat=True)[:500]
    )
    done = 0
    for pk in ids:
        if dispatch_update(update_id=pk, now=now):
            done += 1
    return done
