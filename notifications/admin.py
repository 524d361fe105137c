"""Admin: contact methods (own, or your team's as manager) and the read-only notification log."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils.html import format_html

from notifications import selectors, services
from notifications.models import Channel, ContactMethod, Notification, mask_url
from opsportal.admin_base import ServiceHistoryAdmin, ServiceModelAdmin
from opsportal.badges import badge
from opsportal.parsing import parse_id

STATUS_TONES = {
    Notification.Status.PENDING: "blue",
    Notification.Status.SENDING: "yellow",
    Notification.Status.SENT: "green",
    Notification.Status.FAILED: "red",
    Notification.Status.CANCELLED: "grey",
}
KIND_FIELDS = ["for_page", "for_reminder", "for_digest", "for_update"]


class ContactMethodForm(forms.ModelForm):
    secret = forms.CharField(
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Webhooks: the shared secret used to sign requests (at least 16 characters). "
        "Stored encrypted and never shown again; leave blank to keep the current one.",
    )

    class Meta:
        model = ContactMethod
        fields = [
            "user",
            "channel",
            "label",
            "email",
            "url",
            "slack_member_id",
            "secret",
            "enabled",
            *KIND_FIELDS,
        ]

    def __init__(self, *args, actor=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.actor = actor
        if "user" in self.fields and actor is not None and not actor.is_superuser:
            user_model = get_user_model()
            self.fields["user"].queryset = user_model.objects.filter(
                Q(pk=actor.pk) | Q(pk__in=selectors.managed_user_ids(manager=actor))
            )
        stored = self.instance.url if self.instance.pk else ""
        if stored and "url" in self.fields:
            # The URL is a credential: never shown back, not even to its owner. Blank keeps it.
            self.initial["url"] = ""
            self.fields["url"].required = False
            self.fields["url"].widget.attrs["placeholder"] = mask_url(stored)
            self.fields[
                "url"
            ].help_text = f"Stored: {mask_url(stored)} (hidden). Leave blank to keep it, or paste a new URL to replace it."

    def clean_url(self):
        value = self.cleaned_data.get("url")
        if not value and self.instance.pk and self.instance.url:
            return self.instance.url  # blank: keep the stored URL
        return value

    def clean(self):
        data = super().clean()
        channel = data.get("channel")
        if channel in (Channel.SLACK, Channel.WEBHOOK) and not data.get("url"):
            self.add_error("url", "Slack and webhook contact methods need a URL.")
        # Where a URL may point (the outbound guard) is the service's rule: a refusal comes
        # back on the url field through the admin base.
        secret = data.get("secret") or ""
        if secret and len(secret) < 16:
            self.add_error("secret", "Use a shared secret of at least 16 characters.")
        has_secret = bool(self.instance.secret_encrypted) and self.instance.channel == Channel.WEBHOOK
        if channel == Channel.WEBHOOK and not secret and not has_secret:
            self.add_error("secret", "A webhook needs a shared secret to sign its requests.")
        user = data.get("user")
        if (
            user is not None
            and self.actor is not None
            and not services.can_manage_contacts_of(self.actor, user)
        ):
            self.add_error("user", "You can only edit your own contact methods, or your team members'.")
        return data


@admin.register(ContactMethod)
class ContactMethodAdmin(ServiceHistoryAdmin):
    form = ContactMethodForm
    secret_fields = ("url",)  # a Slack or webhook URL is a credential: anyone holding it can post
    list_display = ["__str__", "user", "channel", "destination", "enabled", "kinds", "secret_display"]
    list_select_related = ["user"]
    list_filter = ["channel", "enabled"]
    search_fields = ["user__username", "user__email", "label", "email"]
    readonly_fields = ["secret_display", "created_at", "updated_at"]

    def get_fieldsets(self, request, obj=None):
        return [
            (None, {"fields": ["user", "channel", "label", "enabled"]}),
            (
                "Destination",
                {"fields": ["email", "url", "slack_member_id", "secret", "secret_display"]},
            ),
            ("Receives", {"fields": KIND_FIELDS, "description": "Which kinds of message go to this method."}),
            ("History", {"fields": ["created_at", "updated_at"]}),
        ]

    def get_form(self, request, obj=None, change=False, **kwargs):
        base = super().get_form(request, obj, change=change, **kwargs)

        class Bound(base):
            def __init__(self, *args, **kw):
                super().__init__(*args, actor=request.user, **kw)

        return Bound

    def get_changeform_initial_data(self, request):
        return {"user": request.user.pk, **super().get_changeform_initial_data(request)}

    def get_queryset(self, request):
        return selectors.visible_contact_methods(user=request.user)

    def has_change_permission(self, request, obj=None):
        allowed = super().has_change_permission(request, obj)
        return allowed and (obj is None or services.can_manage_contacts_of(request.user, obj.user))

    def has_delete_permission(self, request, obj=None):
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or services.can_manage_contacts_of(request.user, obj.user))

    def _save(self, request, obj, form):
        fields = self.values(form, [n for n in form.Meta.fields if n != "secret"])
        return services.save_contact_method(
            actor=request.user, method=obj, secret=form.cleaned_data.get("secret") or None, **fields
        )

    def create_object(self, request, form, formsets):
        return self._save(request, None, form)

    def update_object(self, request, obj, form, formsets):
        return self._save(request, obj, form)

    def delete_object(self, request, obj):
        services.delete_contact_method(actor=request.user, method=obj)

    @admin.display(description="Destination")
    def destination(self, obj):
        if obj.channel == Channel.EMAIL:
            return obj.email or obj.user.email or "(no e-mail)"
        return obj.target_display

    @admin.display(description="Receives")
    def kinds(self, obj):
        on = [obj._meta.get_field(f).verbose_name for f in KIND_FIELDS if getattr(obj, f)]
        return ", ".join(on) or "nothing"

    @admin.display(description="Secret")
    def secret_display(self, obj):
        if obj.channel != Channel.WEBHOOK or not obj.secret_hint:
            return "-"
        return f"set (…{obj.secret_hint})"


class RecipientFilter(admin.SimpleListFilter):
    """Recipient by username: a text-free filter limited to people who received something
    is an unbounded DISTINCT over the log, so the choices are the people you can see."""

    title = "recipient"
    parameter_name = "recipient"

    def lookups(self, request, model_admin):
        users = get_user_model().objects.filter(is_active=True).order_by("username")
        if not request.user.is_superuser and not request.user.has_perm("notifications.change_notification"):
            users = users.filter(pk=request.user.pk)
        return [(u.pk, u.get_username()) for u in users[:200]] + [("none", "(plain address)")]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "none":
            return queryset.filter(recipient__isnull=True)
        if parse_id(value) is not None:
            return queryset.filter(recipient_id=parse_id(value))
        return queryset


@admin.register(Notification)
class NotificationAdmin(ServiceModelAdmin):
    list_display = [
        "created_at",
        "status_badge",
        "channel",
        "kind",
        "recipient",
        "destination",
        "subject",
        "attempts",
        "error_summary",
        "sent_at",
    ]
    list_select_related = ["recipient"]
    list_filter = ["status", "channel", "kind", RecipientFilter]
    search_fields = ["subject", "address", "event_key", "recipient__username", "recipient__email"]
    show_full_result_count = False  # the log grows without bound: no COUNT(*) of everything
    actions = ["resend_failed", "cancel_pending"]
    ordering = ["-created_at", "-pk"]
    fieldsets = [
        (None, {"fields": ["status_badge", "channel", "kind", "recipient", "destination", "related_link"]}),
        ("Message", {"fields": ["subject", "body", "payload_pretty", "template"]}),
        (
            "Delivery",
            {
                "fields": [
                    "attempts",
                    "last_status_code",
                    "last_error",
                    "next_attempt_at",
                    "lease_expires_at",
                    "created_at",
                    "sent_at",
                ]
            },
        ),
        ("Keys", {"fields": ["event_key", "idempotency_key"]}),
    ]
    readonly_fields = [f for fs in fieldsets for f in fs[1]["fields"]]

    def get_queryset(self, request):
        return selectors.visible_notifications(user=request.user).select_related("recipient")

    # Read-only log (no write hooks): rows are written by notify() and changed only by
    # delivery and the actions below.

    def has_resend_permission(self, request):
        return services.can_resend(request.user)

    @admin.action(description="Resend selected failed notifications", permissions=["resend"])
    def resend_failed(self, request, queryset):
        resendable = [Notification.Status.FAILED, Notification.Status.CANCELLED]
        self.for_each(
            request,
            queryset.filter(status__in=resendable),
            lambda notification: services.resend(notification=notification, actor=request.user),
            done="Queued {n} notification(s) for delivery again.",
        )
        skipped = queryset.exclude(status__in=resendable).count()
        if skipped:
            messages.warning(request, f"Skipped {skipped} notification(s) that are not failed or cancelled.")

    @admin.action(description="Cancel selected pending notifications", permissions=["resend"])
    def cancel_pending(self, request, queryset):
        self.for_each(
            request,
            queryset,
            lambda notification: services.cancel(notification=notification, actor=request.user),
            done="Cancelled {n} notification(s).",
        )

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj):
        return badge(obj.get_status_display(), STATUS_TONES.get(obj.status, "grey"))

    @admin.display(description="To")
    def destination(self, obj):
        return obj.address_display

    @admin.display(description="Last error")
    def error_summary(self, obj):
        if not obj.last_error:
            return ""
        text = obj.last_error if len(obj.last_error) <= 80 else obj.last_error[:79] + "…"
        return format_html('<span title="{}">{}</span>', obj.last_error, text)

    @admin.display(description="Layout data (Slack / webhook)")
    def payload_pretty(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.payload, indent=2, ensure_ascii=False))

    @admin.display(description="About")
    def related_link(self, obj):
        if not obj.related_type_id:
            return "-"
        target = obj.related
        if target is None:
            return f"{obj.related_type} #{obj.related_id} (deleted)"
        url = getattr(target, "get_absolute_url", None)
        return format_html('<a href="{}">{}</a>', url(), target) if url else str(target)
