"""Status page configuration in the admin: components (with status override), publishing
control of incidents, scheduled maintenance, subscribers. Every write goes through
status.services."""

from __future__ import annotations

import threading

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.utils import timezone
from simple_history.admin import SimpleHistoryAdmin

from opsportal.errors import ServiceError
from status import selectors, services
from status.models import Component, ComponentStatus, PublicIncident, ScheduledMaintenance, Subscriber

# Statuses derived once per changelist request (admin instances are shared by threads).
_page = threading.local()


class ComponentForm(forms.ModelForm):
    class Meta:
        model = Component
        fields = [
            "service",
            "name",
            "description",
            "group",
            "order",
            "public",
            "override_status",
            "override_reason",
        ]

    def clean(self):
        data = super().clean()
        if data.get("override_status") and not (data.get("override_reason") or "").strip():
            self.add_error("override_reason", "Say why the status is overridden.")
        return data


@admin.register(Component)
class ComponentAdmin(SimpleHistoryAdmin):
    form = ComponentForm
    list_display = [
        "name",
        "service",
        "group",
        "order",
        "public",
        "current_status",
        "override_status",
        "override_by",
    ]
    list_filter = ["public", "group", "override_status"]
    list_select_related = ["service", "override_by"]
    search_fields = ["name", "group", "service__name"]
    autocomplete_fields = ["service"]
    readonly_fields = ["override_by", "override_at"]
    history_list_display = ["override_status", "override_reason", "override_by"]

    def get_changelist_instance(self, request):
        cl = super().get_changelist_instance(request)
        # One derivation for the whole page (constant queries), not one per row.
        from incidents.models import Incident

        components = list(cl.result_list)
        incidents = list(
            selectors.public_incidents()
            .filter(status__in=Incident.OPEN_STATUSES)
            .select_related("severity")
            .prefetch_related("services")
        )
        maint = list(
            ScheduledMaintenance.objects.filter(cancelled=False)
            .prefetch_related("components")
            .order_by("-ends_at")[:200]
        )
        _page.statuses = selectors.component_statuses(components, incidents, maint, now=timezone.now())
        return cl

    @admin.display(description="Shown status")
    def current_status(self, obj):
        status = getattr(_page, "statuses", {}).get(obj.pk)
        return ComponentStatus(status).label if status else "-"

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        try:
            with transaction.atomic():
                component = services.save_component(
                    actor=request.user,
                    service=data["service"],
                    name=data["name"],
                    group=data["group"],
                    order=data["order"],
                    description=data["description"],
                    public=data["public"],
                )
                services.set_override(
                    component=component,
                    actor=request.user,
                    status=data["override_status"],
                    reason=data["override_reason"],
                )
        except ServiceError as exc:
            messages.error(request, exc.message)
            return
        obj.pk = component.pk


@admin.register(PublicIncident)
class PublicIncidentAdmin(SimpleHistoryAdmin):
    list_display = ["incident", "public", "public_title", "public_id", "changed_by", "changed_at"]
    list_filter = ["public"]
    list_select_related = ["incident", "changed_by"]
    search_fields = ["public_title", "incident__title", "public_id"]
    raw_id_fields = ["incident"]
    fields = ["incident", "public", "public_title", "public_id", "changed_by", "changed_at"]
    readonly_fields = ["public_id", "changed_by", "changed_at"]
    actions = ["make_public", "make_not_public"]
    show_full_result_count = False

    def save_model(self, request, obj, form, change):
        try:
            record = services.set_incident_public(
                incident=form.cleaned_data["incident"],
                actor=request.user,
                public=form.cleaned_data["public"],
                public_title=form.cleaned_data["public_title"],
            )
        except ServiceError as exc:
            messages.error(request, exc.message)
            return
        obj.pk = record.pk

    def _bulk(self, request, queryset, public: bool):
        done = 0
        for record in queryset.select_related("incident"):
            try:
                services.set_incident_public(incident=record.incident, actor=request.user, public=public)
                done += 1
            except ServiceError as exc:
                messages.error(request, exc.message)
                return
        messages.success(request, f"{done} incident(s) marked {'public' if public else 'not public'}.")

    @admin.action(description="Show on the status page")
    def make_public(self, request, queryset):
        self._bulk(request, queryset, True)

    @admin.action(description="Mark not public (hide from the status page)")
    def make_not_public(self, request, queryset):
        self._bulk(request, queryset, False)


@admin.register(ScheduledMaintenance)
class ScheduledMaintenanceAdmin(SimpleHistoryAdmin):
    list_display = ["title", "starts_at", "ends_at", "cancelled", "created_by"]
    list_filter = ["cancelled"]
    list_select_related = ["created_by"]
    fields = ["title", "description", "components", "starts_at", "ends_at", "cancelled"]
    filter_horizontal = ["components"]
    actions = ["cancel"]

    def save_model(self, request, obj, form, change):
        if change:
            # Edits of an announced window (text, times) are plain saves; cancel via the action.
            obj.save()
            return
        try:
            created = services.schedule_maintenance(
                actor=request.user,
                title=form.cleaned_data["title"],
                description=form.cleaned_data["description"],
                starts_at=form.cleaned_data["starts_at"],
                ends_at=form.cleaned_data["ends_at"],
                components=form.cleaned_data["components"],
            )
        except ServiceError as exc:
            messages.error(request, exc.message)
            return
        obj.pk = created.pk

    def save_related(self, request, form, formsets, change):
        if change:
            super().save_related(request, form, formsets, change)

    @admin.action(description="Cancel the selected maintenance")
    def cancel(self, request, queryset):
        for m in queryset:
            services.cancel_maintenance(maintenance=m, actor=request.user)
        messages.success(request, "Cancelled.")


@admin.register(Subscriber)
class SubscriberAdmin(admin.ModelAdmin):
    list_display = ["email", "state", "confirmed_at", "unsubscribed_at", "created_at"]
    list_filter = ["state"]
    search_fields = ["email"]
    readonly_fields = [
        "email",
        "state",
        "confirmations_sent",
        "confirmation_sent_at",
        "confirmed_at",
        "unsubscribed_at",
    ]
    exclude = ["nonce"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False  # subscribers opt in themselves (double opt-in)
