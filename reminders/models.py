from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords


class RuleConfig(models.Model):
    """Per-rule settings engineering managers edit in the admin (defaults live in code)."""

    key = models.CharField(max_length=100, unique=True)
    enabled = models.BooleanField(default=True)
    interval = models.DurationField(
        null=True, blank=True, help_text="Repeat cadence; empty = the rule's default."
    )
    escalate_after = models.DurationField(
        null=True, blank=True, help_text="Delay before the second stage; empty = the rule's default."
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["key"]
        verbose_name = "reminder rule"

    def __str__(self) -> str:
        return self.key


class ReminderLog(models.Model):
    """One reminder sent: the exactly-once ledger. A (rule, object, due point, stage,
    recipient) is inserted once; the sweep that loses the insert race sends nothing."""

    ACTION = "*action*"  # recipient key of a rule's one-off action (e.g. start paging)

    rule = models.CharField(max_length=100)
    object_key = models.CharField(max_length=200)
    due_point = models.DateTimeField()
    stage = models.PositiveSmallIntegerField(default=1)
    recipient_key = models.CharField(max_length=254, help_text="user:<id>, an e-mail address, or *action*")
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    summary = models.CharField(max_length=300, blank=True)
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-sent_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "object_key", "due_point", "stage", "recipient_key"],
                name="%(app_label)s_%(class)s_once",
            ),
        ]
        indexes = [
            # admin log, newest first
            models.Index(fields=["-sent_at"], name="reminders_log_sent"),
        ]

    def __str__(self) -> str:
        return f"{self.rule} {self.object_key} stage {self.stage} -> {self.recipient_key}"


class QuietHours(models.Model):
    """Non-paging reminders wait until these local hours are over (pages never wait)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="quiet_hours"
    )
    start = models.TimeField(help_text="Local time in the person's time zone, e.g. 20:00")
    end = models.TimeField(help_text="Local time, e.g. 08:00 (may be earlier than start: overnight)")

    class Meta:
        verbose_name_plural = "quiet hours"
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(start=models.F("end")), name="%(app_label)s_%(class)s_not_empty"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user}: {self.start:%H:%M}-{self.end:%H:%M}"

    def contains(self, local_time) -> bool:
        if self.start < self.end:
            return self.start <= local_time < self.end
        return local_time >= self.start or local_time < self.end


class SweepLock(models.Model):
    """A single row locked for the duration of a sweep: two sweeps never interleave."""

    name = models.CharField(max_length=50, unique=True)
    last_swept_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name
