"""Status page configuration in the admin: components (with status override), publishing
control of incidents, scheduled maintenance, subscribers. Every write goes through
status.services."""

from __future__ import annotations

import threading

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone

from incidents.models import Incident
from opsportal.admin_base import ServiceHistoryAdmin, ServiceModelAdmin
from status import selectors, services
from status.models import Component, ComponentStatus, PublicIncident, ScheduledMaintenance, Subscriber
from status.room import PublishForm

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
            "uptime_slo",
            "override_status",
            "override_reason",
        ]

    def clean(self):
        data = super().clean()
        if data.get("override_status") and not (data.get("override_reason") or "").strip():
            self.add_error("override_reason", "Say why the status is overridden.")
        return data


@admin.register(Component)
class ComponentAdmin(ServiceHistoryAdmin):
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

    def _save(self, request, form):
        data = form.cleaned_data
        component = services.save_component(
            actor=request.user,
            service=data["service"],
            name=data["name"],
            group=data["group"],
            order=data["order"],
            description=data["description"],
            public=data["public"],
            uptime_slo=data.get("uptime_slo"),
        )
        return services.set_override(
            component=component,
            actor=request.user,
            status=data["override_status"],
            reason=data["override_reason"],
        )

    def create_object(self, request, form, formsets):
        return self._save(request, form)

    def update_object(self, request, obj, form, formsets):
        return self._save(request, form)

    def delete_object(self, request, obj):
        services.delete_component(component=obj, actor=request.user)


@admin.register(PublicIncident)
class PublicIncidentAdmin(ServiceHistoryAdmin):
    list_display = ["incident", "public", "public_title", "public_id", "changed_by", "changed_at"]
    list_filter = ["public"]
    list_select_related = ["incident", "changed_by"]
    search_fields = ["public_title", "incident__title", "public_id"]
    raw_id_fields = ["incident"]
    fields = ["incident", "public", "public_title", "public_id", "changed_by", "changed_at"]
    readonly_fields = ["public_id", "changed_by", "changed_at"]
    actions = ["make_public", "make_not_public"]
    show_full_result_count = False

    def _save(self, request, form):
        return services.set_incident_public(
            incident=form.cleaned_data["incident"],
            actor=request.user,
            public=form.cleaned_data["public"],
            public_title=form.cleaned_data["public_title"],
        )

    def create_object(self, request, form, formsets):
        return self._save(request, form)

    def update_object(self, request, obj, form, formsets):
        return self._save(request, form)

    def _bulk(self, request, queryset, public: bool):
        self.for_each(
            request,
            queryset.select_related("incident"),
            lambda record: services.set_incident_public(
                incident=record.incident, actor=request.user, public=public
            ),
            done="{n} incident(s) marked " + ("public" if public else "not public") + ".",
        )

    def get_urls(self):
        return [
            path(
                "publish-incident/<int:incident_pk>/",
                self.admin_site.admin_view(self.publish_view),
                name="status_publicincident_publish",
            ),
            *super().get_urls(),
        ]

    def publish_view(self, request, incident_pk):
        """The incident room's "Publish on the status page" form (status.room)."""
        if request.method != "POST":
            raise PermissionDenied("Use the form in the incident room.")
        incident = get_object_or_404(Incident, pk=incident_pk)
        form = PublishForm(request.POST)
        if not form.is_valid():
            self.message_user(
                request, "Write the public title and the message for customers.", messages.ERROR
            )
        else:
            self.run_service(
                request,
                services.publish_incident,
                incident=incident,
                actor=request.user,
                **form.cleaned_data,
                success=f"{incident.reference} is on the status page as “{form.cleaned_data['public_title']}”.",
            )
        return HttpResponseRedirect(reverse("admin:incidents_incident_change", args=[incident.pk]))

    @admin.action(description="Show on the status page", permissions=["change"])
    def make_public(self, request, queryset):
        self._bulk(request, queryset, True)

    @admin.action(description="Mark not public (hide from the status page)", permissions=["change"])
    def make_not_public(self, request, queryset):
        self._bulk(request, queryset, False)


@admin.register(ScheduledMaintenance)
class ScheduledMaintenanceAdmin(ServiceHistoryAdmin):
    list_display = ["title", "starts_at", "ends_at", "cancelled", "created_by"]
    list_filter = ["cancelled"]
    list_select_related = ["created_by"]
    fields = ["title", "description", "components", "starts_at", "ends_at", "cancelled"]
    filter_horizontal = ["components"]
    actions = ["cancel"]

    def create_object(self, request, form, formsets):
        d = form.cleaned_data
        return services.schedule_maintenance(
            actor=request.user, title=d["title"], description=d["description"], starts_at=d["starts_at"],
            ends_at=d["ends_at"], components=d["components"],
        )  # fmt: skip

    def update_object(self, request, obj, form, formsets):
        d = form.cleaned_data
        return services.update_maintenance(
            maintenance=obj, actor=request.user, title=d["title"], description=d["description"],
            starts_at=d["starts_at"], ends_at=d["ends_at"], components=d["components"], cancelled=d.get("cancelled"),
        )  # fmt: skip

    def delete_object(self, request, obj):
        services.delete_maintenance(maintenance=obj, actor=request.user)

    @admin.action(description="Cancel the selected maintenance")
    def cancel(self, request, queryset):
        self.for_each(
            request,
            queryset,
            lambda m: services.cancel_maintenance(maintenance=m, actor=request.user),
            done="Cancelled {n} maintenance window(s).",
        )


@admin.register(Subscriber)
class SubscriberAdmin(ServiceModelAdmin):
    """Subscribers opt in themselves (double opt-in); the admin reads and erases."""

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

    def delete_object(self, request, obj):
        services.delete_subscriber(subscriber=obj, actor=request.user)
