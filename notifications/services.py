"""Writes to the notification outbox. Every other app sends through ``notify``.

Reliability model (see README, "Notifications"):

1. ``notify`` writes one ``Notification`` row per recipient and channel inside the
   caller's transaction; the row's unique key derives from the caller's idempotency key,
   the recipient and the destination, so repeating an event never creates a second row.
2. On commit, delivery is enqueued once per transaction (``tasks.deliver`` for one row,
   ``tasks.deliver_many`` per chunk of rows). If the broker is down the error is logged and
   swallowed (the caller's request still succeeds); ``tasks.redispatch`` (beat)
   re-enqueues every pending row whose due time has passed.
3. ``claim`` moves rows pending -> sending with one conditional UPDATE and a lease; only
   the claimant's token can complete them, and a row whose worker died is claimable again
   once the lease expires.
4. Transient failures (5xx, 429, timeouts, connection errors) go back to pending with an
   exponential backoff (``Retry-After`` honoured); permanent ones (other 4xx) fail at once.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import random
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection, models, transaction
from django.db.models import F, Q
from django.template import Context, TemplateDoesNotExist, TemplateSyntaxError, engines
from django.utils import timezone

from notifications import crypto, outbound
from notifications.models import Channel, ContactMethod, Kind, Notification, OutboxChannel
from opsportal.errors import Conflict, InvalidInput, NotAllowed
from opsportal.links import absolute_url

log = logging.getLogger(__name__)

Status = Notification.Status


def _setting(name: str, default):
    return getattr(settings, name, default)


def max_attempts() -> int:
    return int(_setting("NOTIFICATIONS_MAX_ATTEMPTS", 8))


def lease_seconds() -> int:
    return int(_setting("NOTIFICATIONS_LEASE_SECONDS", 300))


def retry_base_seconds() -> float:
    return float(_setting("NOTIFICATIONS_RETRY_BASE_SECONDS", 10))


RETRY_CAP_SECONDS = 3600


def batch_size() -> int:
    return max(1, int(_setting("NOTIFICATIONS_BATCH_SIZE", 50)))


@contextlib.contextmanager
def _fast_commits():
    """Delivery bookkeeping (claims, outcomes) commits with ``synchronous_commit = off``
    on PostgreSQL unless ``NOTIFICATIONS_SYNCHRONOUS_COMMIT`` is true.

    The commit returns before the WAL flush, ~10x cheaper per delivery. Durability of the
    outbox itself is unaffected: ``notify`` writes rows in the caller's (synchronous)
    transaction. Only a PostgreSQL crash - not a worker crash - can roll back the last
    fraction of a second of claims/outcomes; those rows are then sent again with the same
    ``X-OpsPortal-Delivery`` id, which receivers can de-duplicate on.
    """
    if connection.vendor != "postgresql" or _setting("NOTIFICATIONS_SYNCHRONOUS_COMMIT", False):
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO OFF")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET synchronous_commit")


# --------------------------------------------------------------------------------------
# notify: the one entry point for the rest of the code
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Target:
    recipient: Any  # User or None
    identity: str  # "user:<pk>" or "email:<address>"
    channel: str
    address: str
    contact_method: ContactMethod | None

    def key(self, event_key: str) -> str:
        method = self.contact_method.pk if self.contact_method else "default"
        raw = "\x1f".join([event_key, self.identity, self.channel, str(method)])
        return hashlib.sha256(raw.encode()).hexdigest()


def notify(
    *,
    recipients: Iterable,
    kind: str,
    template: str,
    context: dict,
    idempotency_key: str,
    related: models.Model | None = None,
) -> list[Notification]:
    """Record one message per recipient and channel, delivered after the caller commits.

    ``recipients``: User objects and/or plain e-mail addresses. ``kind``: page, reminder,
    digest or update (each user's contact methods say which kinds they receive).
    ``template``: "oncall/page" renders ``notifications/oncall/page.subject.txt`` and
    ``notifications/oncall/page.txt`` with ``context`` (plus ``recipient``, ``site_name``,
    ``site_url``). ``context`` needs "title" and "url"; optional "severity", "fields"
    ([[label, value], ...]) and "actions" ([[label, url], ...]) shape Slack and webhooks.
    Repeating ``idempotency_key`` returns the existing rows and sends nothing new.
    """
    if kind not in Kind.values:
        raise InvalidInput(f"Unknown notification kind {kind!r} (expected one of {', '.join(Kind.values)}).")
    if not idempotency_key or not isinstance(idempotency_key, str):
        raise InvalidInput("An idempotency key is required.")
    if len(idempotency_key) > 255:
        raise InvalidInput("The idempotency key is longer than 255 characters.")
    payload = _payload(context, kind=kind)
    related_type, related_id = _related(related)
    targets = _targets(list(recipients), kind)
    if not targets:
        return []

    keys = {t.key(idempotency_key): t for t in targets}
    existing = set(
        Notification.objects.filter(idempotency_key__in=keys).values_list("idempotency_key", flat=True)
    )
    # Render before writing: a template error raises InvalidInput without touching the
    # caller's transaction.
    now = timezone.now()
    rendered: dict[str, tuple[str, str]] = {}
    new_rows = []
    for key, target in keys.items():
        if key in existing:
            continue
        if target.identity not in rendered:
            rendered[target.identity] = _render(template, {**context, **payload}, target.recipient)
        subject, body = rendered[target.identity]
        new_rows.append(
            Notification(
                idempotency_key=key,
                event_key=idempotency_key,
                recipient=target.recipient,
                contact_method=target.contact_method,
                channel=target.channel,
                kind=kind,
                address=target.address,
                template=template,
                subject=subject,
                body=body,
                payload=payload,
                related_type=related_type,
                related_id=related_id,
                status=Status.PENDING,
                next_attempt_at=now,
            )
        )
    # No savepoint: the rows are part of the caller's transaction, all or nothing.
    with transaction.atomic(savepoint=False):
        if new_rows:
            # ON CONFLICT DO NOTHING: a concurrent notify() with the same key waits for the
            # other transaction and then inserts nothing, instead of aborting the caller's.
            Notification.objects.bulk_create(new_rows, ignore_conflicts=True)
        rows = {n.idempotency_key: n for n in Notification.objects.filter(idempotency_key__in=keys)}
        to_send = [rows[k].pk for k in keys if k not in existing and k in rows]
        if to_send:
            _OnCommitBatch.add(to_send)
    return [rows[k] for k in keys if k in rows]


def enqueue_call(
    *,
    sender: str,
    idempotency_key: str,
    subject: str,
    payload: dict,
    address: str = "",
    kind: str = Kind.UPDATE,
    related: models.Model | None = None,
    delay: float = 0,
) -> Notification:
    """Record one app API call (a Slack/Mattermost Web API call) in the outbox, sent after the
    caller commits by the sender registered as ``sender`` (``channels.register_app_sender``),
    with the same claim, retry and failure handling as every message. ``payload`` must be
    JSON-safe and say what to do; ``address`` is the API method URL (shown in the admin).
    Repeating ``idempotency_key`` returns the existing row and sends nothing new."""
    if not sender or not idempotency_key or len(idempotency_key) > 255:
        raise InvalidInput("A sender and an idempotency key of at most 255 characters are required.")
    if kind not in Kind.values:
        raise InvalidInput(f"Unknown notification kind {kind!r}.")
    key = hashlib.sha256("\x1f".join(["app", sender, idempotency_key]).encode()).hexdigest()
    related_type, related_id = _related(related)
    existed = Notification.objects.filter(idempotency_key=key).exists()
    with transaction.atomic(savepoint=False):
        Notification.objects.bulk_create(
            [
                Notification(
                    idempotency_key=key,
                    event_key=idempotency_key,
                    channel=OutboxChannel.APP,
                    kind=kind,
                    address=address[:500],
                    template=sender,
                    subject=subject[:255],
                    body="",
                    payload=payload,
                    related_type=related_type,
                    related_id=related_id,
                    status=Status.PENDING,
                    next_attempt_at=timezone.now() + timedelta(seconds=delay),
                )
            ],
            ignore_conflicts=True,
        )
        row = Notification.objects.get(idempotency_key=key)
        if not existed:
            if delay:
                pk = row.pk
                transaction.on_commit(lambda: enqueue([pk], countdown=delay))
            else:
                _OnCommitBatch.add([row.pk])
    return row


def _payload(context: dict, *, kind: str) -> dict:
    if not isinstance(context, dict):
        raise InvalidInput("The notification context must be a dict.")
    title = context.get("title")
    url = context.get("url")
    if not title or not isinstance(title, str):
        raise InvalidInput('The notification context needs a "title".')
    if not url or not isinstance(url, str):
        raise InvalidInput('The notification context needs a "url" (an absolute link).')
    payload: dict[str, Any] = {"title": title, "url": absolute_url(url), "kind": kind}
    severity = context.get("severity")
    if severity:
        payload["severity"] = str(severity)
    fields = context.get("fields") or []
    actions = context.get("actions") or []
    try:
        payload["fields"] = [[str(label), "" if value is None else str(value)] for label, value in fields]
        payload["actions"] = [[str(label), absolute_url(str(link))] for label, link in actions]
    except (TypeError, ValueError) as exc:
        raise InvalidInput('"fields" and "actions" must be lists of [label, value] pairs.') from exc
    return payload


def _related(related: models.Model | None) -> tuple[ContentType | None, str]:
    if related is None:
        return None, ""
    if not isinstance(related, models.Model) or related.pk is None:
        raise InvalidInput("related must be a saved model instance.")
    return ContentType.objects.get_for_model(related, for_concrete_model=False), str(related.pk)


def _targets(recipients: list, kind: str) -> list[_Target]:
    from django.contrib.auth import get_user_model

    user_model = get_user_model()
    users = [r for r in recipients if isinstance(r, user_model)]
    methods_by_user: dict[int, list[ContactMethod]] = {}
    if users:
        for method in ContactMethod.objects.filter(user__in=[u.pk for u in users]).order_by("pk"):
            methods_by_user.setdefault(method.user_id, []).append(method)

    targets: list[_Target] = []
    seen_users: set[int] = set()
    for recipient in recipients:
        if isinstance(recipient, user_model):
            if recipient.pk in seen_users:
                continue
            seen_users.add(recipient.pk)
            targets.extend(_user_targets(recipient, methods_by_user.get(recipient.pk, []), kind))
        elif isinstance(recipient, str):
            address = recipient.strip()
            try:
                validate_email(address)
            except ValidationError as exc:
                raise InvalidInput(f"{recipient!r} is not an e-mail address.") from exc
            targets.append(_Target(None, f"email:{address.lower()}", Channel.EMAIL, address, None))
        else:
            raise InvalidInput(
                f"A recipient must be a user or an e-mail address, got {type(recipient).__name__}."
            )
    # One message per destination and person per call: a plain address that is also a
    # listed user's address, or two contact methods of one person pointing at the same
    # place, send once. (Different people sharing a destination each get their message:
    # it is rendered for them.)
    by_user = {(t.channel, t.address.strip().lower()) for t in targets if t.recipient is not None}
    seen: set[tuple[str, str, str]] = set()
    unique = []
    for t in targets:
        where = (t.channel, t.address.strip().lower())
        if (t.recipient is None and where in by_user) or (t.identity, *where) in seen:
            continue
        seen.add((t.identity, *where))
        unique.append(t)
    return unique


def _user_targets(user, methods: list[ContactMethod], kind: str) -> list[_Target]:
    if not user.is_active:
        log.info("notify: skipping inactive user %s", user.pk)
        return []
    identity = f"user:{user.pk}"
    out: list[_Target] = []
    has_email_method = False
    for method in methods:
        if method.channel == Channel.EMAIL:
            has_email_method = True
        if not method.enabled or not method.wants(kind):
            continue
        if method.channel == Channel.EMAIL:
            address = method.email or user.email
            if address:
                out.append(_Target(user, identity, Channel.EMAIL, address, method))
        else:
            out.append(_Target(user, identity, method.channel, method.url, method))
    if not has_email_method and user.email:
        # Default: the account e-mail receives every kind until the user sets e-mail up.
        out.append(_Target(user, identity, Channel.EMAIL, user.email, None))
    if not out and kind == Kind.PAGE and user.email:
        # A page is never dropped silently because of preferences: fall back to e-mail.
        log.warning("notify: user %s has no channel for pages; falling back to account e-mail", user.pk)
        out.append(_Target(user, identity, Channel.EMAIL, user.email, None))
    if not out:
        log.info("notify: user %s receives no %s notifications", user.pk, kind)
    return out


def _render(template: str, context: dict, recipient) -> tuple[str, str]:
    # ``context`` already carries the normalised payload: absolute url/actions, str fields.
    engine = engines["django"].engine
    ctx = {
        **context,
        "recipient": recipient,
        "site_name": settings.SITE_NAME,
        "site_url": settings.SITE_URL,
    }
    try:
        subject_tpl = engine.get_template(f"notifications/{template}.subject.txt")
        body_tpl = engine.get_template(f"notifications/{template}.txt")
    except TemplateDoesNotExist as exc:
        raise InvalidInput(f"No notification template {exc}.") from exc
    except TemplateSyntaxError as exc:
        raise InvalidInput(f"Notification template {template!r} is broken: {exc}") from exc
    # Plain text: no HTML escaping (these are e-mail bodies and Slack text, not HTML).
    subject = " ".join(subject_tpl.render(Context(ctx, autoescape=False)).split())
    body = body_tpl.render(Context(ctx, autoescape=False)).strip()
    if len(subject) > 255:
        subject = subject[:254] + "…"
    return subject or context["title"][:255], body


def enqueue(ids: Iterable[int], *, countdown: float | None = None) -> int:
    """Publish delivery tasks for ``ids`` (chunks of ``NOTIFICATIONS_BATCH_SIZE`` go to
    ``deliver_many``, a single id to ``deliver``); never raises. Returns how many ids were
    published.

    Called on commit: a broker outage must not turn the caller's successful request into
    an error. The rows stay pending and ``redispatch`` publishes them later. After the
    first failure the rest are left to redispatch too (each attempt costs a timeout).
    """
    from notifications.tasks import deliver, deliver_many

    ids = list(dict.fromkeys(ids))
    size = batch_size()
    published = 0
    for start in range(0, len(ids), size):
        chunk = ids[start : start + size]
        try:
            if len(chunk) == 1:
                deliver.apply_async(args=[chunk[0]], countdown=countdown)
            else:
                deliver_many.apply_async(args=[chunk], countdown=countdown)
        except Exception:
            log.exception(
                "notifications: could not enqueue delivery of %s row(s) (first: %s); redispatch will retry",
                len(ids) - published,
                chunk[0],
            )
            break
        published += len(chunk)
    return published


class _OnCommitBatch:
    """Collects the ids of every notify() in one transaction and publishes them once, on
    commit, in chunks: a fan-out of 500 messages is 10 broker messages, not 500."""

    _local = threading.local()

    def __init__(self) -> None:
        self.ids: list[int] = []

    def __call__(self) -> None:
        enqueue(self.ids)

    @classmethod
    def add(cls, ids: list[int]) -> None:
        conn = transaction.get_connection()
        batch = getattr(cls._local, "batch", None)
        # Still registered on this connection's pending transaction? (A rolled-back
        # savepoint or a finished transaction dropped it: start a new one.)
        if batch is None or not any(func is batch for _, func, _ in conn.run_on_commit):
            batch = cls()
            cls._local.batch = batch
            transaction.on_commit(batch)
        batch.ids.extend(ids)


# --------------------------------------------------------------------------------------
# Delivery state machine: claim -> sent | pending (retry) | failed
# --------------------------------------------------------------------------------------


def claim(*, notification_ids: Iterable[int], now: datetime | None = None) -> list[Notification]:
    """Take the due rows among ``notification_ids`` for sending; the others (another
    worker has them, done, not due) are left alone.

    One conditional UPDATE: pending and due, or sending with an expired lease (its worker
    died). Concurrent claimers of a row cannot both match it: the loser's UPDATE re-checks
    the condition after the winner commits and finds the row no longer claimable.
    The lease covers sending the whole batch within the HTTP timeout each.
    """
    ids = list(notification_ids)
    now = now or timezone.now()
    token = uuid.uuid4().hex
    lease = lease_seconds() + len(ids) * (_http_timeout() + 1)
    claimed = (
        Notification.objects.filter(pk__in=ids)
        .filter(
            Q(status=Status.PENDING, next_attempt_at__lte=now)
            | Q(status=Status.SENDING, lease_expires_at__lt=now)
        )
        .update(
            status=Status.SENDING,
            claim_token=token,
            lease_expires_at=now + timedelta(seconds=lease),
            attempts=F("attempts") + 1,
            updated_at=now,
        )
    )
    if not claimed:
        return []
    rows = list(Notification.objects.filter(pk__in=ids, claim_token=token))  # by primary key: no scan
    # A batch goes to few people over few contact methods: load each once and share it,
    # instead of a join that builds a copy of both per row (profiled: ~40% of the claim).
    methods = ContactMethod.objects.in_bulk({n.contact_method_id for n in rows} - {None})
    recipients = get_user_model().objects.in_bulk({n.recipient_id for n in rows} - {None})
    for notification in rows:
        if notification.contact_method_id is not None:
            notification.contact_method = methods.get(notification.contact_method_id)
        if notification.recipient_id is not None:
            notification.recipient = recipients.get(notification.recipient_id)
    order = {pk: index for index, pk in enumerate(ids)}
    return sorted(rows, key=lambda n: order.get(n.pk, n.pk))


def _http_timeout() -> float:
    return float(_setting("NOTIFICATIONS_HTTP_TIMEOUT", 10))


def _finish(notification: Notification, **fields) -> bool:
    """Complete a claimed row; False when our lease was lost to a re-claim."""
    fields.setdefault("updated_at", timezone.now())
    done = Notification.objects.filter(
        pk=notification.pk, status=Status.SENDING, claim_token=notification.claim_token
    ).update(lease_expires_at=None, claim_token="", **fields)
    if done != 1:
        log.warning("notifications: lost the claim on %s before recording its outcome", notification.pk)
    return done == 1


def mark_failed(*, notification: Notification, error: str, status_code: int | None = None) -> bool:
    return _finish(notification, status=Status.FAILED, last_error=error[:4000], last_status_code=status_code)


def backoff_seconds(attempt: int, retry_after: float | None = None) -> float:
    """Exponential: base * 2^(attempt-1) with +-10% jitter, capped at one hour.
    A server's ``Retry-After`` wins when given (clamped to 1 s .. 1 h)."""
    if retry_after is not None:
        return min(max(float(retry_after), 1.0), RETRY_CAP_SECONDS)
    delay = retry_base_seconds() * (2 ** max(attempt - 1, 0))
    delay *= random.uniform(0.9, 1.1)  # noqa: S311 - jitter, not security
    return min(delay, RETRY_CAP_SECONDS)


def mark_retry(
    *,
    notification: Notification,
    error: str,
    status_code: int | None = None,
    retry_after: float | None = None,
) -> float | None:
    """Back to pending with a due time, or failed once attempts are used up.
    Returns the delay in seconds when a retry was scheduled."""
    if notification.attempts >= max_attempts():
        mark_failed(
            notification=notification,
            error=f"gave up after {notification.attempts} attempts: {error}",
            status_code=status_code,
        )
        return None
    delay = backoff_seconds(notification.attempts, retry_after)
    ok = _finish(
        notification,
        status=Status.PENDING,
        next_attempt_at=timezone.now() + timedelta(seconds=delay),
        last_error=error[:4000],
        last_status_code=status_code,
    )
    return delay if ok else None


def release(*, notifications: list[Notification], delay: float = 0, reason: str = "") -> int:
    """Give claimed rows back unsent (no attempt used), due again after ``delay``."""
    released = 0
    now = timezone.now()
    for n in notifications:
        released += Notification.objects.filter(
            pk=n.pk, status=Status.SENDING, claim_token=n.claim_token
        ).update(
            status=Status.PENDING,
            attempts=F("attempts") - 1,
            next_attempt_at=now + timedelta(seconds=delay),
            lease_expires_at=None,
            claim_token="",
            last_error=reason[:4000] if reason else F("last_error"),
            updated_at=now,
        )
    return released


def deliver(*, notification_id: int) -> str:
    """Deliver one row. Returns its resulting status, or "skipped" when it was not
    claimable (another worker has it, it is done, or not due yet). Safe to call twice."""
    return deliver_batch(notification_ids=[notification_id]).get(notification_id, "skipped")


class _SentMarks:
    """Successful sends, recorded in small groups: one UPDATE per group instead of one per
    row. A group is written when it reaches ``NOTIFICATIONS_MARK_SENT_EVERY`` rows (50;
    1 = every row on its own), 100 ms after its first row, and always before the batch
    ends (also on errors). Only a worker killed in that window leaves sent rows marked
    "sending"; they are sent again after the lease with the same delivery id."""

    MAX_AGE = 0.1

    def __init__(self, token: str) -> None:
        self.token = token
        self.every = max(1, int(_setting("NOTIFICATIONS_MARK_SENT_EVERY", 50)))
        self.by_code: dict[int | None, list[int]] = {}
        self.count = 0
        self.first_at = 0.0

    def add(self, notification: Notification, status_code: int | None) -> None:
        if not self.count:
            self.first_at = time.monotonic()
        self.by_code.setdefault(status_code, []).append(notification.pk)
        self.count += 1
        if self.count >= self.every or time.monotonic() - self.first_at >= self.MAX_AGE:
            self.flush()

    def flush(self) -> None:
        if not self.count:
            return
        now = timezone.now()
        for code, ids in self.by_code.items():
            done = Notification.objects.filter(
                pk__in=ids, status=Status.SENDING, claim_token=self.token
            ).update(
                status=Status.SENT,
                sent_at=now,
                last_status_code=code,
                last_error="",
                lease_expires_at=None,
                claim_token="",
                updated_at=now,
            )
            if done != len(ids):
                log.warning(
                    "notifications: lost the claim on %s of %s sent row(s)", len(ids) - done, len(ids)
                )
        self.by_code, self.count = {}, 0


def deliver_batch(*, notification_ids: Iterable[int]) -> dict[int, str]:
    """Claim the due rows among ``notification_ids`` and send them one by one, recording
    each outcome right after it is known (sent rows in small groups, see ``_SentMarks``).

    A destination that times out or refuses connections is not tried again within the
    batch: its other rows go back to pending with the same backoff, so one dead endpoint
    cannot hold up pages to everyone else.
    """
    from notifications import channels

    results: dict[int, str] = {}
    retry_later: dict[float, list[int]] = {}
    with _fast_commits():
        rows = claim(notification_ids=notification_ids)
        if not rows:
            return results
        deadline = (
            time.monotonic() + lease_seconds() + len(rows) * (_http_timeout() + 1) - _http_timeout() - 5
        )
        dead_destinations: dict[str, float] = {}
        marks = _SentMarks(rows[0].claim_token)
        mail_connection = None
        try:
            for index, notification in enumerate(rows):
                if time.monotonic() > deadline:  # our lease is about to run out: hand back the rest
                    release(notifications=rows[index:])
                    retry_later.setdefault(0, []).extend(n.pk for n in rows[index:])
                    results.update({n.pk: Status.PENDING for n in rows[index:]})
                    break
                destination = channels.destination_key(notification)
                if destination in dead_destinations:
                    delay = dead_destinations[destination]
                    release(
                        notifications=[notification],
                        delay=delay,
                        reason="destination unreachable in this batch",
                    )
                    retry_later.setdefault(delay, []).append(notification.pk)
                    results[notification.pk] = Status.PENDING
                    continue
                if notification.channel == Channel.EMAIL and mail_connection is None:
                    mail_connection = channels.open_mail_connection()
                outcome, delay, unreachable = _deliver_claimed(notification, channels, mail_connection, marks)
                results[notification.pk] = outcome
                if delay is not None:
                    retry_later.setdefault(delay, []).append(notification.pk)
                    if unreachable:
                        dead_destinations[destination] = delay
        finally:
            marks.flush()
            if mail_connection is not None:
                mail_connection.close()
    for delay, ids in retry_later.items():
        enqueue(ids, countdown=delay or None)
    return results


def _deliver_claimed(
    notification: Notification, channels, mail_connection, marks: _SentMarks
) -> tuple[str, float | None, bool]:
    """Send one claimed row and record the outcome: (status, retry delay, unreachable)."""
    try:
        result = channels.send(notification, mail_connection=mail_connection)
    except Exception as exc:  # a bug in a channel must not leave the row stuck in "sending"
        log.exception("notifications: unexpected error delivering %s", notification.pk)
        result = channels.Result.transient(f"unexpected error: {type(exc).__name__}: {exc}")
    if result.ok:
        marks.add(notification, result.status_code)
        return Status.SENT, None, False
    if result.permanent:
        mark_failed(notification=notification, error=result.error, status_code=result.status_code)
        log.warning("notifications: %s failed permanently: %s", notification.pk, result.error)
        return Status.FAILED, None, False
    delay = mark_retry(
        notification=notification,
        error=result.error,
        status_code=result.status_code,
        retry_after=result.retry_after,
    )
    if delay is None:
        return Status.FAILED, None, False
    return Status.PENDING, delay, result.unreachable


def due_for_redispatch(
    *, now: datetime | None = None, grace_seconds: float = 30, limit: int = 2000
) -> list[int]:
    """Pending rows due for more than ``grace_seconds`` (their on-commit publish or retry
    countdown was lost) and sending rows whose lease expired (worker died), oldest first."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=grace_seconds)
    pending = list(
        Notification.objects.filter(status=Status.PENDING, next_attempt_at__lte=cutoff)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    stale = list(
        Notification.objects.filter(status=Status.SENDING, lease_expires_at__lt=now)
        .order_by("lease_expires_at")
        .values_list("pk", flat=True)[: max(limit - len(pending), 0)]
    )
    return pending + stale


def redispatch(*, grace_seconds: float = 30, limit: int = 2000) -> int:
    ids = due_for_redispatch(grace_seconds=grace_seconds, limit=limit)
    if not ids:
        return 0
    published = enqueue(ids)
    log.info("notifications: re-dispatched %s of %s stranded row(s)", published, len(ids))
    return published


# --------------------------------------------------------------------------------------
# Operator actions
# --------------------------------------------------------------------------------------


def resend(*, notification: Notification, actor) -> Notification:
    """A failed (or cancelled) row goes back to pending with a fresh attempt budget."""
    if not can_resend(actor):
        raise NotAllowed("You may not resend notifications.")
    with transaction.atomic():
        now = timezone.now()
        updated = Notification.objects.filter(
            pk=notification.pk, status__in=[Status.FAILED, Status.CANCELLED]
        ).update(status=Status.PENDING, attempts=0, next_attempt_at=now, updated_at=now)
        if updated != 1:
            raise Conflict(f"Only failed or cancelled notifications can be resent ({notification}).")
        log.info("notifications: %s resent by %s", notification.pk, getattr(actor, "pk", None))
        transaction.on_commit(lambda: enqueue([notification.pk]))
    notification.refresh_from_db()
    return notification


def cancel(*, notification: Notification, actor) -> Notification:
    if not can_resend(actor):
        raise NotAllowed("You may not cancel notifications.")
    updated = Notification.objects.filter(pk=notification.pk, status=Status.PENDING).update(
        status=Status.CANCELLED, updated_at=timezone.now()
    )
    if updated != 1:
        raise Conflict(f"Only pending notifications can be cancelled ({notification}).")
    notification.refresh_from_db()
    return notification


def can_resend(actor) -> bool:
    return bool(actor and actor.is_active and actor.has_perm("notifications.change_notification"))


# --------------------------------------------------------------------------------------
# Contact methods
# --------------------------------------------------------------------------------------


def can_manage_contacts_of(actor, user) -> bool:
    """People edit their own contact methods; managers those of their teams' members."""
    from notifications import selectors

    if actor is None or not actor.is_active:
        return False
    if actor.is_superuser or actor.pk == user.pk:
        return True
    return selectors.manages_user(manager=actor, user_id=user.pk)


def check_destination_url(*, url: str) -> None:
    """Save-time check of a Slack/webhook URL: http(s), and a host that resolves only to
    addresses the outbound guard allows. Raises ``InvalidInput`` on the ``url`` field.

    A name that cannot be resolved right now is accepted (sends are checked again at every
    connect, so a name that later points somewhere refused fails with a clear error)."""
    try:
        outbound.validate_url(url)
    except outbound.UnsupportedURL as exc:
        raise InvalidInput(f"This URL cannot be used: {exc}.", field="url") from None
    except outbound.Refused as exc:
        raise InvalidInput(
            f"This address is not allowed: {exc}. Slack and webhook destinations must be public "
            f"addresses unless {outbound.SETTING} lists their network.",
            field="url",
        ) from None


def save_contact_method(
    *, actor, method: ContactMethod | None = None, secret: str | None = None, **fields
) -> ContactMethod:
    """Create or update a contact method. ``secret`` (webhooks) is stored encrypted; None
    keeps the current one. A new or changed Slack/webhook URL must pass the outbound guard
    (``check_destination_url``)."""
    method = method or ContactMethod()
    # What is stored, not the instance: the admin hands over one its form already changed.
    previous = (
        ContactMethod.objects.filter(pk=method.pk).values_list("channel", "url").first()
        if method.pk
        else None
    )
    for name, value in fields.items():
        setattr(method, name, value)
    if method.user_id is None:
        raise InvalidInput("A contact method belongs to a user.", field="user")
    if not can_manage_contacts_of(actor, method.user):
        raise NotAllowed(
            "You can only edit your own contact methods, or your team members' as their manager."
        )
    if method.channel != Channel.EMAIL:
        method.email = ""
        if not method.url:
            raise InvalidInput("Slack and webhook contact methods need a URL.", field="url")
        if (method.channel, method.url) != previous:
            # Before the transaction: a DNS lookup may take seconds. An unchanged URL is not
            # re-checked, so a method the allow-list has since excluded can still be edited
            # or disabled (its sends are refused at connect time).
            check_destination_url(url=method.url)
    else:
        method.url = ""
    if method.channel != Channel.SLACK:
        method.slack_member_id = ""
    if secret:
        if len(secret) < 16:
            raise InvalidInput("Use a shared secret of at least 16 characters.", field="secret")
        method.secret_encrypted = crypto.encrypt(secret)
        method.secret_hint = secret[-4:]
    if method.channel == Channel.WEBHOOK and not method.secret_encrypted:
        raise InvalidInput("A webhook needs a shared secret to sign its requests.", field="secret")
    if method.channel != Channel.WEBHOOK:
        method.secret_encrypted = ""
        method.secret_hint = ""
    try:
        method.full_clean()
    except ValidationError as exc:
        first_field, messages = next(iter(exc.message_dict.items()))
        raise InvalidInput(
            " ".join(messages), field=None if first_field == "__all__" else first_field
        ) from exc
    with transaction.atomic():
        method.save()
    return method


@transaction.atomic
def delete_contact_method(*, actor, method: ContactMethod) -> None:
    if not can_manage_contacts_of(actor, method.user):
        raise NotAllowed(
            "You can only delete your own contact methods, or your team members' as their manager."
        )
    method.delete()
