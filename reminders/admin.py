from django.contrib import admin
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from accounts.permissions import is_manager
from opsportal.admin_base import ServiceHistoryAdmin, ServiceModelAdmin
from reminders import registry, services
from reminders.models import QuietHours, ReminderLog, RuleConfig


def _human(delta) -> str:
    if not delta:
        return "-"
    minutes = int(delta.total_seconds() // 60)
    if minutes % 1440 == 0:
        return f"{minutes // 1440} d"
    if minutes % 60 == 0:
        return f"{minutes // 60} h"
    return f"{minutes} min"


@admin.register(RuleConfig)
class RuleConfigAdmin(ServiceHistoryAdmin):
    """Rules come from code; a row exists for every registered rule: edited, never added or
    deleted here."""

    list_display = ["key", "title", "enabled", "cadence", "second_stage"]
    list_editable = ["enabled"]
    list_filter = ["enabled"]
    search_fields = ["key"]
    fields = ["key", "description", "enabled", "interval", "escalate_after"]
    readonly_fields = ["key", "description"]
    change_list_template = "admin/reminders/ruleconfig/change_list.html"

    def update_object(self, request, obj, form, formsets):
        return services.update_rule_config(config=obj, actor=request.user, **self.changes(form))

    def changelist_view(self, request, extra_context=None):
        services.sync_rule_configs()
        return super().changelist_view(request, extra_context)

    def _rule(self, obj):
        return {r.key: r for r in registry.rules()}.get(obj.key)

    @admin.display(description="Rule")
    def title(self, obj):
        rule = self._rule(obj)
        return rule.title if rule else "(no longer in code)"

    @admin.display(description="What it chases")
    def description(self, obj):
        rule = self._rule(obj)
        return rule.description if rule else "-"

    @admin.display(description="Cadence")
    def cadence(self, obj):
        rule = self._rule(obj)
        eff = services.effective_config(rule, obj) if rule else None
        return _human(eff.interval) if eff else "-"

    @admin.display(description="Second stage after")
    def second_stage(self, obj):
        rule = self._rule(obj)
        eff = services.effective_config(rule, obj) if rule else None
        return _human(eff.escalate_after) if eff else "-"

    def get_urls(self):
        return [
            path(
                "preview/", self.admin_site.admin_view(self.preview_view), name="reminders_ruleconfig_preview"
            ),
            *super().get_urls(),
        ]

    def preview_view(self, request):
        if not self.has_view_permission(request):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        now = timezone.now()
        items = services.preview(now=now)
        return TemplateResponse(
            request,
            "admin/reminders/preview.html",
            {**self.admin_site.each_context(request), "title": "Next reminder sweep", "items": items, "now": now,
             "opts": self.model._meta},
        )  # fmt: skip


@admin.register(ReminderLog)
class ReminderLogAdmin(ServiceModelAdmin):
    """Read-only: the sweep's exactly-once ledger."""

    list_display = ["sent_at", "rule", "summary", "stage", "recipient_link", "due_point"]
    list_filter = ["rule", "stage", ("sent_at", admin.DateFieldListFilter)]
    search_fields = ["object_key", "summary", "recipient_key"]
    list_select_related = ["recipient"]
    date_hierarchy = "sent_at"
    show_full_result_count = False

    @admin.display(description="Recipient")
    def recipient_link(self, obj):
        if obj.recipient_id:
            return format_html(
                '<a href="{}">{}</a>',
                reverse("admin:accounts_user_change", args=[obj.recipient_id]),
                obj.recipient,
            )
        return obj.recipient_key


@admin.register(QuietHours)
class QuietHoursAdmin(ServiceModelAdmin):
    list_display = ["user", "start", "end"]
    autocomplete_fields = ["user"]

    def get_queryset(self, request):
        qs = super().get_queryset(request).select_related("user")
        return qs if is_manager(request.user) else qs.filter(user=request.user)

    def get_changeform_initial_data(self, request):
        return {"user": request.user.pk}

    def get_readonly_fields(self, request, obj=None):
        return [] if is_manager(request.user) else ["user"]

    def create_object(self, request, form, formsets):
        d = form.cleaned_data
        return services.save_quiet_hours(
            actor=request.user, user=d.get("user"), start=d["start"], end=d["end"]
        )

    def update_object(self, request, obj, form, formsets):
        d = form.cleaned_data
        return services.save_quiet_hours(
            quiet=obj, actor=request.user, user=d.get("user"), start=d["start"], end=d["end"]
        )

    def delete_object(self, request, obj):
        services.delete_quiet_hours(quiet=obj, actor=request.user)
