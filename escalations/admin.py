"""The engineering side: the escalation triage list and the support settings.

Every action goes through ``escalations.services``; refusals become admin messages. Linking
and resolving ask for their input on an intermediate page (the incident, the reply).
"""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from escalations import permissions, selectors, services
from escalations.models import Escalation, Impact, SupportSettings
from incidents.models import Incident
from opsportal.admin_base import ServiceHistoryAdmin
from opsportal.badges import badge
from opsportal.parsing import parse_id
from opsportal.timeutil import human_delta

STATUS_TONES = {
    Escalation.Status.NEW: "red",
    Escalation.Status.ACKNOWLEDGED: "yellow",
    Escalation.Status.LINKED: "purple",
    Escalation.Status.RESOLVED: "green",
}
IMPACT_TONES = {Impact.BLOCKED: "red", Impact.DEGRADED: "orange", Impact.QUESTION: "blue"}


class AgeFilter(admin.SimpleListFilter):
    title = "age"
    parameter_name = "age"
    AGES = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7)}

    def lookups(self, request, model_admin):
        return [
            ("1h", "Last hour"),
            ("24h", "Last 24 hours"),
            ("7d", "Last 7 days"),
            ("older", "Older than 7 days"),
        ]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() in self.AGES:
            return queryset.filter(created_at__gte=now - self.AGES[self.value()])
        if self.value() == "older":
            return queryset.filter(created_at__lt=now - self.AGES["7d"])
        return queryset


class SlaFilter(admin.SimpleListFilter):
    title = "acknowledgement SLA"
    parameter_name = "sla"

    def lookups(self, request, model_admin):
        return [("breached", "Unacknowledged past SLA"), ("pending", "Unacknowledged, within SLA")]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "breached":
            return queryset.filter(status=Escalation.Status.NEW, ack_due_at__lt=now)
        if self.value() == "pending":
            return queryset.filter(status=Escalation.Status.NEW, ack_due_at__gte=now)
        return queryset


class LinkForm(forms.Form):
    incident = forms.ModelChoiceField(
        queryset=Incident.objects.exclude(status=Incident.Status.CLOSED).select_related("severity"),
        label="Incident",
        help_text="Open or resolved (not closed) incidents, newest first.",
    )


class ResolveForm(forms.Form):
    reply = forms.CharField(
        label="Reply to support",
        max_length=services.MAX_TEXT,
        widget=forms.Textarea(attrs={"rows": 5, "cols": 80}),
        help_text="Support sees this on their page and by e-mail: what to tell the customer.",
    )


class OpenIncidentForm(forms.Form):
    severity = forms.TypedChoiceField(
        label="Severity", coerce=int, choices=[(1, "SEV-1"), (2, "SEV-2"), (3, "SEV-3"), (4, "SEV-4")]
    )
    title = forms.CharField(
        label="Title",
        max_length=200,
        required=False,
        help_text="Empty: the service and the customer's words.",
    )


@admin.register(Escalation)
class EscalationAdmin(ServiceHistoryAdmin):
    """Read-only record (filed by support through /support/escalate/ or the API); triage
    happens through the list actions, each a service call."""

    list_display = [
        "reference", "age", "impact_col", "status_col", "sla_col", "service_col", "customer",
        "acknowledged_col", "incident_col", "reporter",
    ]  # fmt: skip
    list_display_links = ["reference", "customer"]
    list_select_related = ["service", "reporter", "acknowledged_by", "incident", "policy"]
    list_filter = ["status", "impact", SlaFilter, ("service", admin.RelatedOnlyFieldListFilter), AgeFilter]
    search_fields = ["customer", "contact", "summary"]
    search_help_text = "Customer, contact or what the customer sees (or ESC-123)."
    actions = ["acknowledge_selected", "link_selected", "open_incident_selected", "resolve_selected"]
    list_per_page = 50
    show_full_result_count = False
    ordering = ["-created_at", "-id"]
    fieldsets = [
        (None, {"fields": ["reference", "status_col", "sla_col", "customer", "contact", "reporter", "created_at"]}),
        ("Report", {"fields": ["service", "impact", "summary", "customers_reporting", "started_at", "link_list"]}),
        ("Routing", {"fields": ["policy", "page_link", "dispatched_at"]}),
        ("Response", {"fields": [
            "acknowledged_by", "acknowledged_at", "incident_col", "linked_by", "resolved_by", "resolved_at", "reply",
        ]}),
    ]  # fmt: skip
    readonly_fields = [
        "reference", "status_col", "sla_col", "customer", "contact", "reporter", "created_at", "service", "impact",
        "summary", "customers_reporting", "started_at", "link_list", "policy", "page_link", "dispatched_at", "acknowledged_by",
        "acknowledged_at", "incident_col", "linked_by", "resolved_by", "resolved_at", "reply",
    ]  # fmt: skip

    def get_queryset(self, request):
        return selectors.triage_list()

    def has_triage_permission(self, request):
        return permissions.can_triage(request.user)

    def get_search_results(self, request, queryset, search_term):
        term = (search_term or "").strip().upper()
        if term.startswith("ESC-") and parse_id(term[4:]) is not None:
            return queryset.filter(pk=parse_id(term[4:])), False
        return super().get_search_results(request, queryset, search_term)

    # --- columns -----------------------------------------------------------------------
    @admin.display(description="ID", ordering="id")
    def reference(self, obj):
        return obj.reference

    @admin.display(description="Filed", ordering="created_at")
    def age(self, obj):
        return format_html(
            '<span title="{}">{} ago</span>', timezone.localtime(obj.created_at).strftime("%Y-%m-%d %H:%M %Z"),
            human_delta(timezone.now() - obj.created_at),
        )  # fmt: skip

    @admin.display(description="Impact", ordering="impact")
    def impact_col(self, obj):
        return badge(obj.impact_short, IMPACT_TONES.get(obj.impact, "grey"), title=obj.get_impact_display())

    @admin.display(description="Status", ordering="status")
    def status_col(self, obj):
        return badge(obj.get_status_display(), STATUS_TONES.get(obj.status, "grey"))

    @admin.display(description="SLA", ordering="ack_due_at")
    def sla_col(self, obj):
        now = timezone.now()
        due = timezone.localtime(obj.ack_due_at).strftime("%Y-%m-%d %H:%M %Z")
        if obj.acknowledged_at is not None:
            if obj.acknowledged_at > obj.ack_due_at:
                return badge(
                    f"missed by {human_delta(obj.acknowledged_at - obj.ack_due_at)}",
                    "orange",
                    title=f"was due {due}",
                )
            return badge("met", "green", title=f"due {due}")
        if obj.status != Escalation.Status.NEW:
            return "-"
        if now > obj.ack_due_at:
            return badge(
                f"SLA breached {human_delta(now - obj.ack_due_at)} ago", "red", title=f"was due {due}"
            )
        return badge(f"due in {human_delta(obj.ack_due_at - now)}", "blue", title=f"due {due}")

    @admin.display(description="Service", ordering="service__name")
    def service_col(self, obj):
        return (
            obj.service.name if obj.service else format_html('<span class="op-muted">{}</span>', "not sure")
        )

    @admin.display(description="Acknowledged by")
    def acknowledged_col(self, obj):
        return str(obj.acknowledged_by) if obj.acknowledged_by else "-"

    @admin.display(description="Incident")
    def incident_col(self, obj):
        if obj.incident is None:
            return "-"
        return format_html('<a href="{}">{}</a>', obj.incident.get_absolute_url(), obj.incident.reference)

    @admin.display(description="Links")
    def link_list(self, obj):
        if not obj.links:
            return "-"
        return format_html(
            "<br>".join(['<a href="{}" rel="noopener noreferrer">{}</a>'] * len(obj.links)),
            *[part for link in obj.links for part in (link, link)],
        )

    @admin.display(description="Page")
    def page_link(self, obj):
        if obj.page_id is None:
            if obj.incident_id is not None:
                paging = (
                    " (queued: a worker is paging on-call for it now)"
                    if obj.dispatched_at is None and obj.linked_by == Escalation.LinkSource.SURGE
                    else ""
                )
                return f"None of its own: {obj.incident.reference}'s response has it{paging}"
            if obj.dispatched_at is None and obj.status == Escalation.Status.NEW:
                return (
                    "Queued: a worker is telling the owning team now"
                    if obj.impact == Impact.QUESTION
                    else "Queued: a worker is paging on-call now"
                )
            if obj.impact == Impact.QUESTION and obj.policy_id:
                return "Not paged (a question pages only when its SLA is missed)"
            return "Not paged" + (
                "" if obj.policy_id else " - no escalation policy (set the support-triage policy)"
            )
        return format_html(
            '<a href="{}">Page #{}</a>', reverse("admin:oncall_page_change", args=[obj.page_id]), obj.page_id
        )

    # --- actions -------------------------------------------------------------------------
    def _each(self, request, queryset, fn, done: str, **kwargs) -> None:
        self.for_each(
            request,
            queryset.order_by("pk"),
            lambda escalation: fn(escalation=escalation, actor=request.user, **kwargs),
            done=done + ": {labels}.",
            label=lambda escalation: escalation.reference,
        )

    def _ask(self, request, queryset, form, *, action: str, title: str, button: str):
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "form": form,
            "escalations": list(queryset.select_related("service")),
            "action": action,
            "button": button,
            "opts": self.model._meta,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/escalations/escalation/action_form.html", context)

    @admin.action(description="Acknowledge selected escalations", permissions=["triage"])
    def acknowledge_selected(self, request, queryset):
        self._each(request, queryset, services.acknowledge, "Acknowledged")

    @admin.action(description="Link selected escalations to an incident...", permissions=["triage"])
    def link_selected(self, request, queryset):
        form = LinkForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            self._each(
                request, queryset, services.link_to_incident, "Linked", incident=form.cleaned_data["incident"]
            )
            return None
        return self._ask(
            request, queryset, form, action="link_selected", title="Link to an incident", button="Link"
        )

    @admin.action(description="Open an incident from selected escalations...", permissions=["triage"])
    def open_incident_selected(self, request, queryset):
        initial = {"severity": services.current_settings().surge_severity}
        form = OpenIncidentForm(request.POST if "apply" in request.POST else None, initial=initial)
        if "apply" in request.POST and form.is_valid():
            first, *rest = list(queryset.order_by("created_at", "pk"))
            opened, incident = self.run_service(
                request, services.open_incident, escalation=first, actor=request.user,
                severity=form.cleaned_data["severity"], title=form.cleaned_data["title"],
            )  # fmt: skip
            if not opened:
                return None
            self.message_user(
                request, f"{incident.reference} opened from {first.reference}.", messages.SUCCESS
            )
            if rest:
                self._each(
                    request, Escalation.objects.filter(pk__in=[e.pk for e in rest]), services.link_to_incident,
                    f"Also linked to {incident.reference}", incident=incident,
                )  # fmt: skip
            return HttpResponseRedirect(incident.get_absolute_url())
        return self._ask(
            request,
            queryset,
            form,
            action="open_incident_selected",
            title="Open an incident",
            button="Open incident",
        )

    @admin.action(description="Resolve selected escalations with a reply...", permissions=["triage"])
    def resolve_selected(self, request, queryset):
        form = ResolveForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            self._each(request, queryset, services.resolve, "Resolved", reply=form.cleaned_data["reply"])
            return None
        return self._ask(
            request, queryset, form, action="resolve_selected", title="Resolve with a reply", button="Resolve"
        )


@admin.register(SupportSettings)
class SupportSettingsAdmin(ServiceHistoryAdmin):
    """One row, created by a migration: edited, never added or deleted."""

    fieldsets = [
        ("Routing", {"fields": ["triage_policy"]}),
        (
            "Acknowledgement SLA by impact",
            {"fields": ["blocked_ack_minutes", "degraded_ack_minutes", "question_ack_minutes"]},
        ),
        ("Surge detection", {"fields": ["surge_threshold", "surge_window_minutes", "surge_severity"]}),
        ("Support form", {"fields": ["duplicate_window_minutes"]}),
    ]
    list_display = [
        "__str__",
        "triage_policy",
        "blocked_ack_minutes",
        "degraded_ack_minutes",
        "question_sla",
        "surge",
    ]
    list_select_related = ["triage_policy"]
    autocomplete_fields = ["triage_policy"]

    @admin.display(description="Question SLA")
    def question_sla(self, obj):
        return obj.sla_display(Impact.QUESTION)

    @admin.display(description="Surge")
    def surge(self, obj):
        return f"{obj.surge_threshold} in {obj.surge_window_minutes} min -> SEV-{obj.surge_severity}"

    def changelist_view(self, request, extra_context=None):
        row = services.current_settings()
        return HttpResponseRedirect(f"{request.path}{row.pk}/change/")

    def update_object(self, request, obj, form, formsets):
        return services.update_settings(actor=request.user, **self.values(form, services.SETTINGS_FIELDS))
