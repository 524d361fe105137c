"""The sweep: ask every rule what is due, send each reminder exactly once."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.permissions import is_manager
from opsportal.errors import InvalidInput, NotAllowed
from reminders import registry
from reminders.models import QuietHours, ReminderLog, RuleConfig, SweepLock

log = logging.getLogger(__name__)


@dataclass
class Planned:
    rule: str
    reminder: registry.Reminder
    recipients: list  # after quiet hours
    deferred: list  # in quiet hours now: tried again by a later sweep


@dataclass
class SweepReport:
    sent: int = 0  # log rows written (one per recipient, plus actions)
    already_sent: int = 0
    deferred: int = 0
    planned: list[Planned] = field(default_factory=list)


def sync_rule_configs() -> dict[str, RuleConfig]:
    """One RuleConfig row per registered rule, so managers can edit each in the admin."""
    rules = registry.rules()
    existing = {c.key: c for c in RuleConfig.objects.all()}
    missing = [RuleConfig(key=r.key) for r in rules if r.key not in existing]
    if missing:
        RuleConfig.objects.bulk_create(missing, ignore_conflicts=True)
        existing = {c.key: c for c in RuleConfig.objects.all()}
    return existing


def effective_config(rule: registry.Rule, config: RuleConfig | None) -> registry.EffectiveConfig:
    return registry.EffectiveConfig(
        enabled=config.enabled if config else True,
        interval=(config.interval if config and config.interval else rule.default_interval),
        escalate_after=(
            config.escalate_after if config and config.escalate_after else rule.default_escalate_after
        ),
    )


def _recipient_key(recipient) -> str:
    return recipient if isinstance(recipient, str) else f"user:{recipient.pk}"


def _quiet_now(recipients, now: datetime) -> set[int]:
    """Ids of the users among ``recipients`` whose quiet hours contain ``now``."""
    users = {r.pk: r for r in recipients if not isinstance(r, str)}
    if not users:
        return set()
    quiet = set()
    for qh in QuietHours.objects.filter(user_id__in=users):
        local = now.astimezone(ZoneInfo(users[qh.user_id].time_zone)).time()
        if qh.contains(local):
            quiet.add(qh.user_id)
    return quiet


def plan(*, now: datetime | None = None) -> list[Planned]:
    """What the rules say is due now (before de-duplication against the log)."""
    now = now or timezone.now()
    configs = sync_rule_configs()
    planned: list[Planned] = []
    for rule in registry.rules():
        config = effective_config(rule, configs.get(rule.key))
        if not config.enabled:
            continue
        for reminder in rule.due(now=now, config=config):
            recipients = list(reminder.recipients)
            quiet = set() if rule.paging else _quiet_now(recipients, now)
            keep = [r for r in recipients if isinstance(r, str) or r.pk not in quiet]
            later = [r for r in recipients if not isinstance(r, str) and r.pk in quiet]
            planned.append(Planned(rule.key, reminder, keep, later))
    return planned


def preview(*, now: datetime | None = None) -> list[Planned]:
    """What the next sweep would send: planned reminders not yet in the log."""
    items = plan(now=now)
    sent = set(
        ReminderLog.objects.filter(
            rule__in={p.rule for p in items}, object_key__in={p.reminder.object_key for p in items}
        ).values_list("rule", "object_key", "due_point", "stage", "recipient_key")
    )
    out = []
    for p in items:
        r = p.reminder
        fresh = [
            x
            for x in p.recipients
            if (p.rule, r.object_key, r.due_point, r.stage, _recipient_key(x)) not in sent
        ]
        if fresh:
            out.append(Planned(p.rule, r, fresh, p.deferred))
    return out


def _send_once(rule_key: str, reminder: registry.Reminder, recipient) -> bool:
    from notifications.services import notify

    key = _recipient_key(recipient)
    try:
        with transaction.atomic():
            ReminderLog.objects.create(
                rule=rule_key,
                object_key=reminder.object_key,
                due_point=reminder.due_point,
                stage=reminder.stage,
                recipient_key=key,
                recipient=None if isinstance(recipient, str) else recipient,
                summary=str(reminder.context.get("title", ""))[:300],
            )
            notify(
                recipients=[recipient],
                kind=reminder.kind,
                template=reminder.template,
                context=reminder.context,
                idempotency_key=f"reminder:{rule_key}:{reminder.identity}",
                related=reminder.related,
            )
    except IntegrityError:
        return False  # another sweep (or an earlier one) already sent it
    return True


def _act_once(rule_key: str, reminder: registry.Reminder) -> bool:
    try:
        with transaction.atomic():
            ReminderLog.objects.create(
                rule=rule_key,
                object_key=reminder.object_key,
                due_point=reminder.due_point,
                stage=reminder.stage,
                recipient_key=ReminderLog.ACTION,
                summary=str(reminder.context.get("title", ""))[:300],
            )
            reminder.action()
    except IntegrityError:
        return False
    return True


def sweep(*, now: datetime | None = None) -> SweepReport:
    """Send everything due, exactly once. Safe to run twice, concurrently, or after a gap."""
    now = now or timezone.now()
    report = SweepReport()
    with transaction.atomic():
        # Serialise sweeps: the second one waits here, then finds every reminder logged.
        SweepLock.objects.get_or_create(name="reminders")
        lock = SweepLock.objects.select_for_update().get(name="reminders")
        for item in plan(now=now):
            report.planned.append(item)
            report.deferred += len(item.deferred)
            if item.reminder.action is not None:
                if _act_once(item.rule, item.reminder):
                    report.sent += 1
                else:
                    report.already_sent += 1
            for recipient in item.recipients:
                if _send_once(item.rule, item.reminder, recipient):
                    report.sent += 1
                else:
                    report.already_sent += 1
        lock.last_swept_at = now
        lock.save(update_fields=["last_swept_at"])
    if report.sent:
        log.info(
            "reminder sweep sent %s, skipped %s already sent, deferred %s",
            report.sent,
            report.already_sent,
            report.deferred,
        )
    return report


# --- settings people edit in the admin ---------------------------------------------------------


@transaction.atomic
def update_rule_config(*, config: RuleConfig, actor, **fields) -> RuleConfig:
    """Switch a reminder rule on or off, or change its cadence (engineering managers)."""
    if actor is not None and not actor.has_perm("reminders.change_ruleconfig"):
        raise NotAllowed("Only engineering managers change reminder rules.")
    unknown = set(fields) - {"enabled", "interval", "escalate_after"}
    if unknown:
        raise InvalidInput(f"Unknown fields: {', '.join(sorted(unknown))}.")
    row = RuleConfig.objects.select_for_update().get(pk=config.pk)
    for name, value in fields.items():
        setattr(row, name, value)
    for name in ("interval", "escalate_after"):
        value = getattr(row, name)
        if value is not None and value.total_seconds() < 60:
            raise InvalidInput("At least one minute (or empty for the rule's default).", field=name)
    row._history_user = actor
    row.save()
    return row


def _quiet_owner(actor, user):
    """People set their own quiet hours; engineering managers anyone's."""
    if user is None or is_manager(actor):
        return user or actor
    if user.pk != actor.pk:
        raise NotAllowed("You may only set your own quiet hours.", field="user")
    return user


@transaction.atomic
def save_quiet_hours(*, quiet: QuietHours | None = None, actor, user=None, start, end) -> QuietHours:
    if quiet is not None and quiet.pk is not None and quiet.user_id != actor.pk and not is_manager(actor):
        raise NotAllowed("You may only change your own quiet hours.")
    owner = _quiet_owner(actor, user or (quiet.user if quiet is not None and quiet.user_id else None))
    if start == end:
        raise InvalidInput("Quiet hours need a start and an end that differ.", field="end")
    row = quiet or QuietHours()
    row.user, row.start, row.end = owner, start, end
    row.full_clean()
    row.save()
    return row


@transaction.atomic
def delete_quiet_hours(*, quiet: QuietHours, actor) -> None:
    if quiet.user_id != actor.pk and not is_manager(actor):
        raise NotAllowed("You may only remove your own quiet hours.")
    quiet.delete()
