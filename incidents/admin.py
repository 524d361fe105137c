"""The incident admin: the main UI engineering managers and responders run incidents from.

Every write goes through ``incidents.services``: the quick "Declare incident" form, the
edit form, list actions, and the transition / update / note forms on the change page.
Service errors become admin messages, never a 500.
"""

from __future__ import annotations

import re

from django.contrib import admin, messages
from django.contrib.admin import DateFieldListFilter
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from incidents import permissions, selectors, services
from incidents.admin_room import IncidentRoomMixin
from incidents.forms import IncidentChangeForm, NoteForm, StatusUpdateForm
from incidents.models import Incident, Severity
from opsportal.admin_base import ServiceHistoryAdmin
from opsportal.badges import badge
from opsportal.timeutil import human_delta

SEVERITY_TONES = {1: "red", 2: "orange", 3: "yellow", 4: "blue"}
STATUS_TONES = {
    Incident.Status.INVESTIGATING: "red",
    Incident.Status.IDENTIFIED: "orange",
    Incident.Status.MONITORING: "yellow",
    Incident.Status.RESOLVED: "green",
    Incident.Status.CLOSED: "grey",
}
REFERENCE_RE = re.compile(r"^\s*(?:inc[-\s]?)?(\d{1,9})\s*$", re.IGNORECASE)


def severity_badge(severity: Severity) -> str:
    return badge(severity.label, SEVERITY_TONES.get(severity.level, "grey"), title=severity.name)


def status_badge(incident: Incident) -> str:
    return badge(incident.get_status_display(), STATUS_TONES.get(incident.status, "grey"))


@admin.register(Severity)
class SeverityAdmin(ServiceHistoryAdmin):
    list_display = ["label_badge", "name", "ack_sla_display", "cadence", "pages_oncall", "postmortem"]
    list_display_links = ["label_badge", "name"]
    ordering = ["level"]
    fieldsets = [
        (None, {"fields": ["level", "name", "description", "examples"]}),
        (
            "Response",
            {"fields": ["ack_sla_mode", "ack_sla_minutes", "update_cadence_minutes", "pages_oncall"]},
        ),
        ("Postmortem", {"fields": ["postmortem_required", "postmortem_due_business_days"]}),
    ]

    # No add or delete: levels 1-4 are seeded, incidents point at them; the guide is edited.
    def update_object(self, request, obj, form, formsets):
        return services.update_severity(
            severity=obj, actor=request.user, **self.values(form, services.SEVERITY_FIELDS)
        )

    def get_readonly_fields(self, request, obj=None):
        return ["level"] if obj else []

    @admin.display(description="Severity", ordering="level")
    def label_badge(self, obj):
        return severity_badge(obj)

    @admin.display(description="Acknowledge within")
    def ack_sla_display(self, obj):
        return obj.ack_sla_display

    @admin.display(description="Updates every")
    def cadence(self, obj):
        return obj.cadence_display

    @admin.display(description="Postmortem")
    def postmortem(self, obj):
        if not obj.postmortem_required:
            return "optional"
        return f"required, due in {obj.postmortem_due_business_days} business days"


class SeverityFilter(admin.SimpleListFilter):
    title = "severity"
    parameter_name = "severity"

    def lookups(self, request, model_admin):
        return [(str(s.level), s.label) for s in Severity.objects.order_by("level")]

    def queryset(self, request, queryset):
        return queryset.filter(severity__level=self.value()) if self.value() else queryset


class OpenFilter(admin.SimpleListFilter):
    title = "open or done"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("open", "Open"), ("done", "Resolved or closed")]

    def queryset(self, request, queryset):
        if self.value() == "open":
            return queryset.open()
        if self.value() == "done":
            return queryset.exclude(status__in=Incident.OPEN_STATUSES)
        return queryset


@admin.register(Incident)
class IncidentAdmin(IncidentRoomMixin, ServiceHistoryAdmin):
    form = IncidentChangeForm
    list_display = [
        "reference", "title", "severity_col", "status_col", "duration", "commander", "service_list",
        "update_due", "drill_col",
    ]  # fmt: skip
    list_display_links = ["reference", "title"]
    list_select_related = ["severity", "commander", "owning_team"]
    list_filter = [
        OpenFilter,
        SeverityFilter,
        "status",
        ("owning_team", admin.RelatedOnlyFieldListFilter),
        ("services", admin.RelatedOnlyFieldListFilter),
        "detection_source",
        ("detected_at", DateFieldListFilter),
        "drill",
    ]
    search_fields = ["title", "summary"]
    search_help_text = "Title, summary or incident number (INC-1234)."
    autocomplete_fields = ["services", "primary_service", "owning_team", "runbooks"]
    actions = ["acknowledge_selected", "take_command_selected", "mitigate_selected", "resolve_selected"]
    list_per_page = 50
    change_list_template = "admin/incidents/incident/change_list.html"
    readonly_fields = [
        "reference", "status_col", "severity_guide", "detected_at", "acknowledged", "ack_due",
        "mitigated_at", "resolved", "closed_at", "next_update", "declared_by", "reported_customers",
        "customer_message_updated_at", "reopened_count", "suggested_runbooks",
    ]  # fmt: skip

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return super().get_fieldsets(request, obj)  # the short declare form (IncidentRoomMixin)
        return [
            (None, {"fields": ["reference", "status_col", "title", "summary", "severity", "severity_guide", "drill"]}),
            ("Scope", {"fields": ["services", "primary_service", "owning_team", "detection_source", "tags"]}),
            ("Roles", {"fields": ["commander", "comms_lead", "scribe", "channel_url"]}),
            ("Runbooks", {"fields": ["runbooks", "suggested_runbooks"]}),
            ("Customers", {"fields": [
                "customer_impact", "customers_affected", "reported_customers", "customer_message",
                "customer_message_updated_at",
            ]}),
            ("Timestamps", {"fields": [
                "started_at", "detected_at", "acknowledged", "ack_due", "mitigated_at", "resolved", "closed_at",
                "next_update", "declared_by", "reopened_count",
            ]}),
        ]  # fmt: skip

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    def get_queryset(self, request):
        return selectors.incident_list()

    # No delete: an incident's record is never deleted (metrics and audit depend on it).

    def get_search_results(self, request, queryset, search_term):
        match = REFERENCE_RE.match(search_term or "")
        if match:
            return queryset.filter(number=int(match.group(1))), False
        return super().get_search_results(request, queryset, search_term)

    # --- list columns ------------------------------------------------------------------
    @admin.display(description="ID", ordering="number")
    def reference(self, obj):
        return obj.reference

    @admin.display(description="Severity", ordering="severity__level")
    def severity_col(self, obj):
        return severity_badge(obj.severity)

    @admin.display(description="Status", ordering="status")
    def status_col(self, obj):
        return status_badge(obj)

    @admin.display(description="Duration")
    def duration(self, obj):
        text = human_delta(obj.duration(timezone.now()))
        return text if obj.resolved_at else format_html("{} <span class='op-muted'>(ongoing)</span>", text)

    @admin.display(description="Services")
    def service_list(self, obj):
        return ", ".join(s.name for s in obj.services.all()) or "-"

    @admin.display(description="Update due")
    def update_due(self, obj):
        state, due = selectors.update_state(obj)
        if state == "none":
            return "-"
        now = timezone.now()
        if state == "overdue":
            return badge(
                f"overdue {human_delta(now - due)}", "red", title=f"was due {due:%Y-%m-%d %H:%M} UTC"
            )
        return badge(f"due in {human_delta(due - now)}", "blue", title=f"due {due:%Y-%m-%d %H:%M} UTC")

    @admin.display(description="Drill", boolean=True, ordering="drill")
    def drill_col(self, obj):
        return obj.drill

    # --- change page read-only fields ---------------------------------------------------
    @admin.display(description="Severity guide")
    def severity_guide(self, obj):
        sev = obj.severity
        return format_html(
            "{}: acknowledge within {}, updates every {}, {}, postmortem {}.",
            sev.label,
            sev.ack_sla_display,
            sev.cadence_display,
            "pages on-call" if sev.pages_oncall else "no page",
            "required" if sev.postmortem_required else "optional",
        )

    @admin.display(description="Acknowledged")
    def acknowledged(self, obj):
        if not obj.acknowledged_at:
            return "-"
        return format_html("{} by {}", _local(obj.acknowledged_at), obj.acknowledged_by or "-")

    @admin.display(description="Acknowledge due")
    def ack_due(self, obj):
        due = obj.ack_due_at()
        if obj.acknowledged_at:
            return "met" if obj.acknowledged_at <= due else f"missed ({_local(due)})"
        return badge(f"due {_local(due)}", "red" if due < timezone.now() else "blue")

    @admin.display(description="Resolved")
    def resolved(self, obj):
        if not obj.resolved_at:
            return "-"
        return format_html("{} by {}", _local(obj.resolved_at), obj.resolved_by or "-")

    @admin.display(description="Suggested runbooks")
    def suggested_runbooks(self, obj):
        from runbooks.selectors import runbooks_for_services

        rows = list(runbooks_for_services([s.pk for s in obj.services.all()]))
        if not rows:
            return "No runbook covers these services yet."
        return format_html_join(", ", '<a href="{}">{}</a>', ((r.get_absolute_url(), r.title) for r in rows))

    @admin.display(description="Next update due")
    def next_update(self, obj):
        return self.update_due(obj)

    # --- saving through services (declaring: IncidentRoomMixin.create_object) ------------
    def update_object(self, request, obj, form, formsets):
        data = form.cleaned_data
        original = Incident.objects.get(pk=obj.pk)
        changed = set(form.changed_data)
        editable = {f: data[f] for f in services.EDITABLE_FIELDS if f in changed}
        if editable or "services" in changed:
            services.update_incident(
                incident=original,
                actor=request.user,
                services=list(data["services"]) if "services" in changed else None,
                **editable,
            )
        if "severity" in changed:
            services.change_severity(incident=original, actor=request.user, severity=data["severity"])
        for role in IncidentChangeForm.ROLE_FIELDS:
            if role in changed:
                services.assign_role(incident=original, actor=request.user, role=role, user=data[role])
        if "runbooks" in changed:
            current = set(original.runbooks.all())
            wanted = set(data["runbooks"])
            for runbook in sorted(wanted - current, key=lambda r: r.title):
                services.link_runbook(incident=original, runbook=runbook, actor=request.user)
            for runbook in sorted(current - wanted, key=lambda r: r.title):
                services.unlink_runbook(incident=original, runbook=runbook, actor=request.user)
        if "customer_message" in changed:
            services.set_customer_message(
                incident=original, actor=request.user, text=data["customer_message"]
            )
        return original

    def change_view(self, request, object_id, form_url="", extra_context=None):
        incident = self.get_object(request, object_id)
        extra = extra_context or {}
        if incident is not None:
            can_act = permissions.can_respond(request.user) and self.has_change_permission(request, incident)
            extra.update(
                update_form=StatusUpdateForm(auto_id="update_%s"),  # two forms on one page: distinct ids
                note_form=NoteForm(auto_id="note_%s"),
                transitions=self._transitions(incident),
                can_act=can_act,
                markdown_url=reverse("admin:incidents_incident_markdown", args=[incident.pk]),
                is_nav_sidebar_enabled=False,  # the room needs the width
                severity_badge=severity_badge(incident.severity),
                status_badge=status_badge(incident),
                **self.room_context(request, incident, can_act),
            )
        return super().change_view(request, object_id, form_url, extra)

    @staticmethod
    def _transitions(incident: Incident) -> list[tuple[str, str]]:
        allowed = services.ALLOWED[incident.status]
        out = []
        if incident.is_open and incident.acknowledged_at is None:
            out.append(("acknowledge", "Acknowledge"))
        if incident.is_open:
            out.append(("take_command", "Take command"))
        S = Incident.Status
        for target, verb, label in [
            (S.IDENTIFIED, "identify", "Cause identified"),
            (S.MONITORING, "mitigate", "Mark mitigated"),
            (S.RESOLVED, "resolve", "Resolve"),
            (S.INVESTIGATING, "reopen", "Reopen"),
            (S.CLOSED, "close", "Close"),
        ]:
            if target in allowed:
                out.append((verb, label))
        return out

    # --- extra admin views: transitions, updates, notes, Markdown ---------------------------
    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "<int:pk>/transition/<str:verb>/",
                view(self.transition_view),
                name="incidents_incident_transition",
            ),
            path("<int:pk>/post-update/", view(self.post_update_view), name="incidents_incident_post_update"),
            path("<int:pk>/add-note/", view(self.add_note_view), name="incidents_incident_add_note"),
            path("<int:pk>/timeline.md", view(self.markdown_view), name="incidents_incident_markdown"),
            *self.room_urls(),
            *super().get_urls(),
        ]

    def _acting_on(self, request, pk) -> Incident:
        if request.method != "POST":
            raise PermissionDenied("Use the buttons on the incident page.")
        incident = self.get_object(request, str(pk))
        if incident is None:
            raise Http404
        if not self.has_change_permission(request, incident):
            raise PermissionDenied
        return incident

    def _back(self, incident: Incident):
        return HttpResponseRedirect(reverse("admin:incidents_incident_change", args=[incident.pk]))

    VERBS = {
        "acknowledge": (services.acknowledge, "Acknowledged {ref}; you are on it."),
        "take_command": (services.take_command, "You are incident commander of {ref}."),
        "identify": (services.identify, "{ref}: cause identified."),
        "mitigate": (services.mitigate, "{ref} is mitigated and being monitored."),
        "resolve": (services.resolve, "{ref} is resolved."),
        "reopen": (services.reopen, "{ref} is reopened."),
        "close": (services.close, "{ref} is closed."),
    }

    def transition_view(self, request, pk, verb):
        incident = self._acting_on(request, pk)
        if verb not in self.VERBS:
            raise PermissionDenied("Unknown action.")
        fn, done = self.VERBS[verb]
        if verb == "close":
            self.try_close(request, incident)
            return self._back(incident)
        kwargs = {"incident": incident, "actor": request.user}
        if verb == "reopen":
            kwargs["reason"] = request.POST.get("note", "")
        elif verb in ("identify", "mitigate", "resolve"):
            kwargs["note"] = request.POST.get("note", "")
        self.run_service(request, fn, **kwargs, success=done.format(ref=incident.reference))
        return self._back(incident)

    def post_update_view(self, request, pk):
        incident = self._acting_on(request, pk)
        form = StatusUpdateForm(request.POST)
        if not form.is_valid():
            self.message_user(request, _form_errors(form), messages.ERROR)
            return self._back(incident)
        self.run_service(
            request,
            services.post_update,
            incident=incident,
            actor=request.user,
            **form.cleaned_data,
            success=f"Update posted on {incident.reference}.",
        )
        return self._back(incident)

    def add_note_view(self, request, pk):
        incident = self._acting_on(request, pk)
        form = NoteForm(request.POST)
        if not form.is_valid():
            self.message_user(request, _form_errors(form), messages.ERROR)
            return self._back(incident)
        self.run_service(
            request,
            services.add_note,
            incident=incident,
            actor=request.user,
            **form.cleaned_data,
            success="Note added to the timeline.",
        )
        return self._back(incident)

    def markdown_view(self, request, pk):
        from django.http import HttpResponse

        incident = get_object_or_404(selectors.incident_list(), pk=pk)
        if not self.has_view_permission(request, incident):
            raise PermissionDenied
        response = HttpResponse(
            selectors.timeline_markdown(incident), content_type="text/markdown; charset=utf-8"
        )
        response["Content-Disposition"] = f'inline; filename="{incident.reference}-timeline.md"'
        return response

    # --- list actions -------------------------------------------------------------------
    def _bulk(self, request, queryset, fn, done: str):
        self.for_each(
            request,
            queryset,
            lambda incident: fn(incident=incident, actor=request.user),
            done=done + ": {labels}.",
            label=lambda incident: incident.reference,
        )

    @admin.action(description="Acknowledge selected incidents", permissions=["change"])
    def acknowledge_selected(self, request, queryset):
        self._bulk(request, queryset, services.acknowledge, "Acknowledged")

    @admin.action(description="Take command of selected incidents", permissions=["change"])
    def take_command_selected(self, request, queryset):
        self._bulk(request, queryset, services.take_command, "You command")

    @admin.action(description="Mark selected incidents mitigated", permissions=["change"])
    def mitigate_selected(self, request, queryset):
        self._bulk(request, queryset, services.mitigate, "Mitigated")

    @admin.action(description="Resolve selected incidents", permissions=["change"])
    def resolve_selected(self, request, queryset):
        self._bulk(request, queryset, services.resolve, "Resolved")


def _local(dt):
    return timezone.localtime(dt).strftime("%Y-%m-%d %H:%M %Z")


def _form_errors(form) -> str:
    return " ".join(
        f"{form.fields[f].label if f in form.fields else ''}: {' '.join(e)}".strip(": ")
        for f, e in form.errors.items()
    )
