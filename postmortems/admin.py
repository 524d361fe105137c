"""Postmortem admin (write, review, publish, export) and the Remediation changelist.

Every write goes through ``postmortems.services``: the start form, section edits, the
inline action items, the review buttons and the list actions. Service errors become admin
messages, never a 500.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from incidents.models import Incident
from opsportal.admin_base import ServiceHistoryAdmin, ServiceModelAdmin
from opsportal.badges import badge
from postmortems import permissions, prefill, selectors, services
from postmortems.forms import (
    ActionItemForm,
    ActionItemInlineForm,
    ApproveForm,
    ReturnForm,
    StartPostmortemForm,
)
from postmortems.models import REVIEW_CHECKLIST, SECTION_FIELDS, ActionItem, Holiday, Postmortem

STATUS_TONES = {
    Postmortem.Status.DRAFT: "grey",
    Postmortem.Status.IN_REVIEW: "blue",
    Postmortem.Status.PUBLISHED: "green",
}
ITEM_TONES = {
    ActionItem.Status.OPEN: "grey",
    ActionItem.Status.IN_PROGRESS: "blue",
    ActionItem.Status.DONE: "green",
    ActionItem.Status.WONT_DO: "purple",
}
SEVERITY_TONES = {1: "red", 2: "orange", 3: "yellow", 4: "blue"}


def _local(dt) -> str:
    return dt.astimezone(services.business_zone()).strftime("%Y-%m-%d %H:%M %Z") if dt else "-"


def _errors(form) -> str:
    return " ".join(f"{' '.join(e)}" for e in form.errors.values())


def postmortem_due_badge(pm: Postmortem, now=None) -> str:
    now = now or timezone.now()
    if pm.status == Postmortem.Status.PUBLISHED:
        return badge("published", "green", title=f"published {_local(pm.published_at)}")
    if pm.due_at < now:
        return badge(
            f"overdue {prefill.human_duration(now - pm.due_at)}", "red", title=f"was due {_local(pm.due_at)}"
        )
    return badge(f"due {_local(pm.due_at)}", "blue")


def item_due_badge(item: ActionItem, today) -> str:
    if item.status in ActionItem.FINISHED_STATUSES:
        return format_html("{}", f"{item.due_date:%Y-%m-%d}")
    if item.due_date < today:
        days = (today - item.due_date).days
        return badge(f"overdue {days}d", "red", title=f"was due {item.due_date:%Y-%m-%d}")
    if item.due_date <= today + timedelta(days=2):
        return badge(f"due {item.due_date:%Y-%m-%d}", "orange")
    return format_html("{}", f"{item.due_date:%Y-%m-%d}")


# ---------------------------------------------------------------------------------------
# Postmortems
# ---------------------------------------------------------------------------------------
class ActionItemInline(admin.TabularInline):
    model = ActionItem
    form = ActionItemInlineForm
    extra = 0
    can_delete = False  # declined work is "won't do" with a reason, not deleted
    fields = [
        "title",
        "owner",
        "team",
        "kind",
        "priority",
        "due_date",
        "status",
        "wont_do_reason",
        "tracker_url",
    ]
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("owner", "team")


class OverdueFilter(admin.SimpleListFilter):
    title = "due"
    parameter_name = "due"

    def lookups(self, request, model_admin):
        return [("overdue", "Overdue"), ("unpublished", "Not yet published")]

    def queryset(self, request, queryset):
        if self.value() == "overdue":
            return queryset.unpublished().filter(due_at__lt=timezone.now())
        if self.value() == "unpublished":
            return queryset.unpublished()
        return queryset


@admin.register(Postmortem)
class PostmortemAdmin(ServiceHistoryAdmin):
    list_display = [
        "incident_ref", "incident_title", "severity", "status_col", "owner", "team", "due", "progress_col",
    ]  # fmt: skip
    list_display_links = ["incident_ref", "incident_title"]
    list_filter = [OverdueFilter, "status", ("team", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["search_text"]
    search_help_text = (
        "Words from the incident title/summary or any postmortem section (full text on PostgreSQL)."
    )
    inlines = [ActionItemInline]
    change_form_template = "admin/postmortems/postmortem/change_form.html"
    list_per_page = 50
    readonly_fields = ["incident_link", "status_col", "due", "review_state", "progress_col"]

    def get_queryset(self, request):
        return selectors.postmortem_list()

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = StartPostmortemForm
            kwargs["fields"] = StartPostmortemForm.Meta.fields
        return super().get_form(request, obj, change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {"fields": StartPostmortemForm.Meta.fields})]
        return [
            (None, {"fields": ["incident_link", "status_col", "review_state", "due", "progress_col", "owner", "reviewer", "due_at"]}),
            ("Impact and timeline (prefilled from the incident)", {"fields": ["summary", "customer_impact", "timeline"]}),
            ("Analysis", {"fields": ["trigger", "root_cause", "detection", "resolution"]}),
            ("Response", {"fields": ["went_well", "went_poorly", "got_lucky", "lessons_learned", "external_message"]}),
        ]  # fmt: skip

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        if obj.status == Postmortem.Status.PUBLISHED:
            return [*self.readonly_fields, "owner", "reviewer", "due_at", *SECTION_FIELDS]
        return self.readonly_fields

    # No delete: the review is part of the incident's record.

    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip():
            return queryset, False
        return selectors.search_postmortems(search_term, queryset), False

    # --- columns -----------------------------------------------------------------------------
    @admin.display(description="Incident", ordering="incident__number")
    def incident_ref(self, obj):
        return obj.incident.reference

    @admin.display(description="Title", ordering="incident__title")
    def incident_title(self, obj):
        return obj.incident.title

    @admin.display(description="Severity", ordering="incident__severity__level")
    def severity(self, obj):
        sev = obj.incident.severity
        return badge(sev.label, SEVERITY_TONES.get(sev.level, "grey"), title=sev.name)

    @admin.display(description="Status", ordering="status")
    def status_col(self, obj):
        return badge(obj.get_status_display(), STATUS_TONES.get(obj.status, "grey"))

    @admin.display(description="Due", ordering="due_at")
    def due(self, obj):
        return postmortem_due_badge(obj)

    @admin.display(description="Action items done")
    def progress_col(self, obj):
        pct = selectors.progress(obj)
        if pct is None:
            return "-"
        total = getattr(obj, "items_total", None)
        return format_html("{}%{}", pct, f" of {total}" if total is not None else "")

    @admin.display(description="Incident")
    def incident_link(self, obj):
        incident = obj.incident
        return format_html(
            '<a href="{}">{}</a> {} &middot; {} &middot; resolved {}',
            reverse("admin:incidents_incident_change", args=[incident.pk]),
            f"{incident.reference}: {incident.title}",
            self.severity(obj),
            incident.get_status_display(),
            _local(incident.resolved_at),
        )

    @admin.display(description="Review")
    def review_state(self, obj):
        parts = []
        if obj.reviewer:
            parts.append(f"reviewer {obj.reviewer}")
        if obj.submitted_at:
            parts.append(f"submitted {_local(obj.submitted_at)}")
        if obj.approved_at:
            parts.append(f"approved by {obj.approved_by} at {_local(obj.approved_at)}")
        if obj.published_at:
            parts.append(f"published by {obj.published_by} at {_local(obj.published_at)}")
        return "; ".join(parts) or "not submitted yet"

    # --- saving through services ------------------------------------------------------------
    def create_object(self, request, form, formsets):
        data = form.cleaned_data
        return services.start_postmortem(
            incident=data["incident"],
            actor=request.user,
            owner=data.get("owner"),
            reviewer=data.get("reviewer"),
        )

    def update_object(self, request, obj, form, formsets):
        data = form.cleaned_data
        fields = {f: data[f] for f in services.EDITABLE_FIELDS if f in form.changed_data and f in data}
        if fields:
            services.update_postmortem(postmortem=obj.pk, actor=request.user, **fields)
        for formset in formsets:
            self.inline_rows(request, formset)  # read form by form below: a status change is its own step
            self._save_items(request, obj.pk, formset)
        return obj

    def _save_items(self, request, pm_id, formset):
        for f in formset.forms:
            if not f.has_changed() or not hasattr(f, "cleaned_data") or not f.cleaned_data:
                continue
            data = f.cleaned_data
            details = {k: data[k] for k in services.ITEM_FIELDS if k in data}
            if f.instance.pk is None:
                item = services.add_action_item(
                    postmortem=pm_id,
                    actor=request.user,
                    **{k: v for k, v in details.items() if v is not None},
                )
                if data.get("status") and data["status"] != ActionItem.Status.OPEN:
                    services.set_action_item_status(
                        item=item,
                        actor=request.user,
                        status=data["status"],
                        reason=data.get("wont_do_reason", ""),
                    )
                continue
            changed = {k: v for k, v in details.items() if k in f.changed_data}
            if changed:
                services.update_action_item(item=f.instance.pk, actor=request.user, **changed)
            if {"status", "wont_do_reason"} & set(f.changed_data):
                services.set_action_item_status(
                    item=f.instance.pk,
                    actor=request.user,
                    status=data["status"],
                    reason=data.get("wont_do_reason", ""),
                )

    def response_add(self, request, obj, post_url_continue=None):
        self.message_user(request, "Postmortem started, prefilled from the incident.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:postmortems_postmortem_change", args=[obj.pk]))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        pm = self.get_object(request, object_id)
        extra = extra_context or {}
        if pm is not None:
            user = request.user
            extra.update(
                pm=pm,
                can_write=permissions.can_write(user) and self.has_change_permission(request, pm),
                can_review=permissions.can_review(user, pm),
                can_publish=permissions.can_publish(user, pm),
                is_owner=user.pk == pm.owner_id,
                approve_form=ApproveForm(),
                return_form=ReturnForm(),
                checklist=REVIEW_CHECKLIST,
                markdown_url=reverse("admin:postmortems_postmortem_markdown", args=[pm.pk]),
            )
        return super().change_view(request, object_id, form_url, extra)

    # --- review actions, Markdown, archive ------------------------------------------------------
    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("archive/", view(self.archive_view), name="postmortems_archive"),
            path("<int:pk>/review/<str:verb>/", view(self.review_view), name="postmortems_postmortem_review"),
            path("<int:pk>/postmortem.md", view(self.markdown_view), name="postmortems_postmortem_markdown"),
            path(
                "start-from-incident/<int:incident_pk>/",
                view(self.start_from_incident_view),
                name="postmortems_postmortem_start_from_incident",
            ),
            *super().get_urls(),
        ]

    def start_from_incident_view(self, request, incident_pk):
        """The incident room's "Start postmortem" button (also offered when closing is refused
        for a missing postmortem): start it prefilled from the incident and open it."""
        if request.method != "POST":
            raise PermissionDenied("Use the Start postmortem button in the incident room.")
        if not self.has_add_permission(request):
            raise PermissionDenied
        get_object_or_404(Incident.objects.only("pk"), pk=incident_pk)
        room_url = reverse("admin:incidents_incident_change", args=[incident_pk])
        done, pm = self.run_service(
            request, services.start_postmortem, incident=incident_pk, actor=request.user
        )
        if not done:
            return HttpResponseRedirect(room_url)
        self.message_user(request, "Postmortem started, prefilled from the incident.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:postmortems_postmortem_change", args=[pm.pk]))

    def review_view(self, request, pk, verb):
        if request.method != "POST":
            raise PermissionDenied("Use the buttons on the postmortem page.")
        pm = get_object_or_404(self.get_queryset(request), pk=pk)
        if not self.has_view_permission(request, pm):
            raise PermissionDenied  # the services decide who may do what
        user = request.user
        post = request.POST

        def approve():
            form = ApproveForm(post)
            checklist = form.cleaned_data["checklist"] if form.is_valid() else post.getlist("checklist")
            services.approve(postmortem=pm, actor=user, checklist=checklist)

        def approve_publish():
            services.approve(postmortem=pm, actor=user, checklist=post.getlist("checklist"))
            services.publish(postmortem=pm, actor=user)

        steps = {
            "submit": (
                lambda: services.submit_for_review(postmortem=pm, actor=user),
                "Submitted for review.",
            ),
            "approve": (approve, "Approved."),
            "publish": (
                lambda: services.publish(postmortem=pm, actor=user),
                "Published: the incident can now be closed.",
            ),
            "approve_publish": (approve_publish, "Approved and published: the incident can now be closed."),
            "return": (
                lambda: services.return_to_draft(postmortem=pm, actor=user, reason=post.get("reason", "")),
                "Sent back to the owner as a draft.",
            ),
            "refresh": (
                lambda: services.refresh_from_incident(
                    postmortem=pm, actor=user, sections=post.getlist("sections") or ["timeline"]
                ),
                "Refilled from the incident.",
            ),
        }
        if verb not in steps:
            raise PermissionDenied("Unknown action.")
        step, done = steps[verb]
        self.run_service(request, step, success=done)
        return HttpResponseRedirect(reverse("admin:postmortems_postmortem_change", args=[pm.pk]))

    def markdown_view(self, request, pk):
        pm = get_object_or_404(selectors.postmortem_list(), pk=pk)
        if not self.has_view_permission(request, pm):
            raise PermissionDenied
        response = HttpResponse(
            selectors.postmortem_markdown(pm), content_type="text/markdown; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="{pm.incident.reference}-postmortem.md"'
        return response

    def archive_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        q = request.GET.get("q", "").strip()[:200]
        rows = []
        if q:
            rows = list(
                selectors.search_archive(q).select_related("severity", "postmortem", "owning_team")[:100]
            )
        context = {
            **self.admin_site.each_context(request),
            "title": "Incident archive",
            "q": q,
            "rows": rows,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/postmortems/archive.html", context)


# ---------------------------------------------------------------------------------------
# Remediation: action items across all postmortems
# ---------------------------------------------------------------------------------------
class MineFilter(admin.SimpleListFilter):
    title = "whose"
    parameter_name = "whose"

    def lookups(self, request, model_admin):
        return [("mine", "Mine"), ("team", "My teams")]

    def queryset(self, request, queryset):
        if self.value() == "mine":
            return selectors.for_user(queryset, request.user)
        if self.value() == "team":
            return selectors.for_users_teams(queryset, request.user)
        return queryset


class DueFilter(admin.SimpleListFilter):
    title = "due"
    parameter_name = "due"

    def lookups(self, request, model_admin):
        return [("overdue", "Overdue"), ("week", "Due this week"), ("unfinished", "Not finished")]

    def queryset(self, request, queryset):
        today = services.local_today()
        if self.value() == "overdue":
            return queryset.overdue(today)
        if self.value() == "week":
            end = today + timedelta(days=6 - today.weekday())  # through Sunday
            return queryset.unfinished().filter(due_date__gte=today, due_date__lte=end)
        if self.value() == "unfinished":
            return queryset.unfinished()
        return queryset


@admin.register(ActionItem)
class ActionItemAdmin(ServiceHistoryAdmin):
    """Action items are added on their postmortem's page (where the context is) and never
    deleted (declined work is "won't do" with a reason; history keeps every change)."""

    form = ActionItemForm
    list_display = [
        "title", "incident_ref", "owner", "team", "kind", "priority", "due", "status_col", "tracker",
    ]  # fmt: skip
    list_filter = [MineFilter, DueFilter, "status", "kind", "priority"]
    list_select_related = [
        "owner",
        "team",
        "postmortem",
        "postmortem__incident",
        "postmortem__incident__severity",
    ]
    search_fields = ["title", "description"]
    actions = ["mark_in_progress", "mark_done"]
    list_per_page = 100
    readonly_fields = ["postmortem_link", "completed_at"]
    fields = [
        "postmortem_link", "title", "description", "owner", "team", "kind", "priority", "due_date", "status",
        "wont_do_reason", "tracker_url", "completed_at",
    ]  # fmt: skip

    def get_queryset(self, request):
        return selectors.remediation_list()

    def changelist_view(self, request, extra_context=None):
        self._today = services.local_today()
        extra = {"title": "Remediation: action items across all postmortems", **(extra_context or {})}
        return super().changelist_view(request, extra)

    @admin.display(description="Incident", ordering="postmortem__incident__number")
    def incident_ref(self, obj):
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:postmortems_postmortem_change", args=[obj.postmortem_id]),
            obj.postmortem.incident.reference,
        )

    @admin.display(description="Due", ordering="due_date")
    def due(self, obj):
        return item_due_badge(obj, getattr(self, "_today", None) or services.local_today())

    @admin.display(description="Status", ordering="status")
    def status_col(self, obj):
        return badge(obj.get_status_display(), ITEM_TONES.get(obj.status, "grey"), title=obj.wont_do_reason)

    @admin.display(description="Tracker")
    def tracker(self, obj):
        if not obj.tracker_url:
            return "-"
        return format_html('<a href="{}" rel="noopener noreferrer" target="_blank">link</a>', obj.tracker_url)

    @admin.display(description="Postmortem")
    def postmortem_link(self, obj):
        return format_html(
            '<a href="{}">Postmortem of {}</a>',
            reverse("admin:postmortems_postmortem_change", args=[obj.postmortem_id]),
            obj.postmortem.incident,
        )

    def update_object(self, request, obj, form, formsets):
        data = form.cleaned_data
        details = {k: data[k] for k in services.ITEM_FIELDS if k in form.changed_data and k in data}
        if details:
            services.update_action_item(item=obj.pk, actor=request.user, **details)
        if {"status", "wont_do_reason"} & set(form.changed_data):
            services.set_action_item_status(
                item=obj.pk, actor=request.user, status=data["status"], reason=data.get("wont_do_reason", "")
            )
        return obj

    def _bulk(self, request, queryset, status: str, done: str):
        self.for_each(
            request,
            queryset,
            lambda item: services.set_action_item_status(item=item, actor=request.user, status=status),
            done=done + ": {n} item(s).",
            label=lambda item: item.title,
        )

    @admin.action(description="Mark selected items in progress", permissions=["change"])
    def mark_in_progress(self, request, queryset):
        self._bulk(request, queryset, ActionItem.Status.IN_PROGRESS, "In progress")

    @admin.action(description="Mark selected items done", permissions=["change"])
    def mark_done(self, request, queryset):
        self._bulk(request, queryset, ActionItem.Status.DONE, "Done")


@admin.register(Holiday)
class HolidayAdmin(ServiceModelAdmin):
    list_display = ["day", "name"]
    date_hierarchy = "day"
    search_fields = ["name"]

    def create_object(self, request, form, formsets):
        return services.save_holiday(actor=request.user, **self.values(form))

    def update_object(self, request, obj, form, formsets):
        return services.save_holiday(holiday=obj, actor=request.user, **self.values(form))

    def delete_object(self, request, obj):
        services.delete_holiday(holiday=obj, actor=request.user)
