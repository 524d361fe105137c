"""Admin: releases list (upcoming, readiness %, last gate answer, "awaiting my sign-off"), the
review page (items, evidence, automatic results, sign-off), templates; history everywhere."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from opsportal.admin_base import ServiceHistoryAdmin
from opsportal.badges import badge
from opsportal.db import count_subquery
from opsportal.errors import ServiceError
from opsportal.parsing import parse_id
from readiness import checks, permissions, selectors, services
from readiness.models import ReadinessReview, ReadinessTemplate, Release, ReviewItem, TemplateItem

STATUS_TONES = {
    Release.Status.PLANNED: "grey",
    Release.Status.IN_REVIEW: "blue",
    Release.Status.APPROVED: "green",
    Release.Status.SHIPPED: "purple",
    Release.Status.ROLLED_BACK: "red",
    Release.Status.CANCELLED: "grey",
}
RISK_TONES = {"low": "green", "medium": "yellow", "high": "red"}
STATE_TONES = {"pending": "grey", "pass": "green", "fail": "red", "waived": "orange"}


class AwaitingMySignoffFilter(admin.SimpleListFilter):
    title = "sign-off"
    parameter_name = "awaiting"

    def lookups(self, request, model_admin):
        return [("me", "Awaiting my sign-off")]

    def queryset(self, request, queryset):
        if self.value() == "me":
            return queryset.filter(pk__in=selectors.awaiting_signoff(request.user).values("pk"))
        return queryset


class WhenFilter(admin.SimpleListFilter):
    title = "when"
    parameter_name = "when"

    def lookups(self, request, model_admin):
        return [("upcoming", "Upcoming (open)"), ("past", "Past windows")]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "upcoming":
            return queryset.filter(window_end__gt=now, status__in=Release.OPEN_STATUSES)
        if self.value() == "past":
            return queryset.filter(window_end__lte=now)
        return queryset


class ReleaseForm(forms.ModelForm):
    class Meta:
        model = Release
        fields = [
            "name", "version", "services", "release_lead", "window_start", "window_end", "risk",
            "change_summary", "rollback_plan", "rollback_minutes", "rollback_tested_at",
            "rollback_evidence_url", "rollback_evidence_note",
        ]  # fmt: skip

    def clean(self):
        data = super().clean()
        if "name" not in self.fields:  # a closed release: everything is read-only
            return data
        try:
            services.validate_release(
                name=data.get("name"), version=data.get("version"), release_lead=data.get("release_lead"),
                window_start=data.get("window_start"), window_end=data.get("window_end"),
                risk=data.get("risk"), services=data.get("services"),
            )  # fmt: skip
        except ServiceError as exc:
            raise ValidationError({exc.field: exc.message} if exc.field else exc.message) from exc
        return data


def _done_subquery():
    # readiness %: items passed or waived, as a correlated subquery (one changelist query)
    return Coalesce(
        Subquery(
            ReviewItem.objects.filter(review__release=OuterRef("pk"), state__in=selectors.DONE_STATES)
            .order_by()
            .values("review")
            .annotate(n=Count("pk"))
            .values("n"),
            output_field=IntegerField(),
        ),
        0,
    )


@admin.register(Release)
class ReleaseAdmin(ServiceHistoryAdmin):
    form = ReleaseForm
    list_display = [
        "__str__",
        "window_start",
        "risk_badge",
        "status_badge",
        "readiness",
        "gate_badge",
        "release_lead",
    ]
    list_select_related = ["release_lead"]
    list_filter = [AwaitingMySignoffFilter, WhenFilter, "status", "risk"]
    search_fields = ["name", "version", "change_summary"]
    autocomplete_fields = ["services", "release_lead"]
    date_hierarchy = "window_start"
    readonly_fields = ["status", "status_changed_at", "review_link", "last_gate_decision", "last_gate_at"]
    fieldsets = [
        (None, {"fields": ["name", "version", "services", "release_lead", "risk", "change_summary"]}),
        ("Deploy window (UTC)", {"fields": ["window_start", "window_end"]}),
        (
            "Rollback",
            {
                "fields": [
                    "rollback_plan",
                    "rollback_minutes",
                    "rollback_tested_at",
                    "rollback_evidence_url",
                    "rollback_evidence_note",
                ]
            },
        ),
        (
            "Status",
            {"fields": ["status", "status_changed_at", "review_link", "last_gate_decision", "last_gate_at"]},
        ),
    ]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(_items=count_subquery(ReviewItem, "review__release"), _done=_done_subquery())
        )

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.status not in Release.OPEN_STATUSES:
            # shipped, rolled back and cancelled releases are a record: nothing to edit
            return [*ReleaseForm.Meta.fields, *self.readonly_fields]
        return self.readonly_fields

    def has_view_permission(self, request, obj=None):
        return permissions.can_view(request.user) and super().has_view_permission(request, obj)

    @admin.display(description="Risk", ordering="risk")
    def risk_badge(self, obj):
        return badge(obj.get_risk_display(), RISK_TONES.get(obj.risk, "grey"))

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj):
        return badge(obj.get_status_display(), STATUS_TONES.get(obj.status, "grey"))

    @admin.display(description="Readiness", ordering="_done")
    def readiness(self, obj):
        if not obj._items:
            return "-"
        return f"{round(100 * obj._done / obj._items)}%"

    @admin.display(description="Gate (last answer)", ordering="last_gate_decision")
    def gate_badge(self, obj):
        if not obj.last_gate_decision:
            return badge("not asked", "grey")
        when = f"{obj.last_gate_at:%Y-%m-%d %H:%M} UTC" if obj.last_gate_at else ""
        return badge(
            obj.last_gate_decision.upper(), "green" if obj.last_gate_decision == "go" else "red", title=when
        )

    @admin.display(description="Readiness review")
    def review_link(self, obj):
        if not obj.pk:
            return "-"
        return format_html(
            '<a href="{}">Open the readiness review</a>',
            reverse("admin:readiness_release_review", args=[obj.pk]),
        )

    def create_object(self, request, form, formsets):
        data = self.values(form)
        return services.create_release(actor=request.user, services=data.pop("services"), **data)

    def update_object(self, request, obj, form, formsets):
        if not form.changed_data:
            return obj
        data = self.values(form)
        return services.update_release(
            release=Release.objects.get(pk=obj.pk), actor=request.user, services=data.pop("services"), **data
        )

    def delete_object(self, request, obj):
        services.delete_release(release=obj, actor=request.user)

    # --- the review page ---------------------------------------------------------------------
    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/review/", view(self.review_view), name="readiness_release_review"),
            *super().get_urls(),
        ]

    ACTIONS = {
        "start_review": (services.start_review, "Readiness review started."),
        "evaluate": (services.evaluate_checks, "Automatic checks re-evaluated."),
        "sign": (services.sign, "Signed off."),
        "shipped": (services.mark_shipped, "Marked shipped."),
        "rolled_back": (services.mark_rolled_back, "Marked rolled back."),
        "cancel": (services.cancel, "Release cancelled."),
    }

    @staticmethod
    def _signed_message(release) -> str:
        release.refresh_from_db()
        if release.status == Release.Status.APPROVED:
            return "Signed off. The release is approved."
        review = ReadinessReview.objects.get(release=release)
        items = list(review.items.select_related("waived_by"))
        content = selectors.signed_content(release, items)
        names = selectors.team_names(release)
        missing = [selectors.slot_label(s, names) for s in selectors.missing_slots(review, content, items)]
        return "Signed off. Still missing: " + ", ".join(missing) + "."

    def review_view(self, request, pk):
        if not permissions.can_view(request.user):
            raise PermissionDenied
        release = get_object_or_404(self.get_queryset(request), pk=pk)
        here = reverse("admin:readiness_release_review", args=[pk])
        if request.method == "POST":
            verb = request.POST.get("action", "")
            if verb == "item":
                raw = request.POST.get("item", "")
                item = get_object_or_404(
                    ReviewItem,
                    pk=parse_id(raw) or 0,
                    review__release=release,
                )
                self.run_service(
                    request,
                    services.update_item,
                    item=item,
                    actor=request.user,
                    state=request.POST.get("state", ""),
                    evidence_url=request.POST.get("evidence_url", ""),
                    evidence_note=request.POST.get("evidence_note", ""),
                    waiver_reason=request.POST.get("waiver_reason", ""),
                    success=f"Saved '{item.title}'.",
                )
            elif verb == "sign":
                ok, _sig = self.run_service(request, services.sign, release=release, actor=request.user)
                if ok:
                    self.message_user(request, self._signed_message(release), messages.SUCCESS)
            elif verb in self.ACTIONS:
                fn, done = self.ACTIONS[verb]
                self.run_service(request, fn, release=release, actor=request.user, success=done)
            else:
                raise PermissionDenied("Unknown action.")
            return HttpResponseRedirect(here)
        release.refresh_from_db()
        review = ReadinessReview.objects.filter(release=release).first()
        items, sigs, missing, sign_off, four_eyes = [], [], [], None, None
        managers = selectors.team_managers(release)
        names = selectors.team_names(release)
        if review is not None:
            items = list(review.items.select_related("waived_by").order_by("position"))
            content = selectors.signed_content(release, items)
            sigs = selectors.signature_views(review, content)
            missing = [
                selectors.slot_label(s, names) for s in selectors.missing_slots(review, content, items)
            ]
            sign_off = selectors.sign_off_for(request.user, release, review, items, content)
            four_eyes = selectors.four_eyes_blocker(review, items, sigs)
        gate = selectors.gate(release)
        can_sign = bool(sign_off and sign_off.allowed)
        owning_managers = (
            ", ".join(sorted(f"the manager of {n}" for n in set(names.values())))
            or "an owning team's manager"
        )
        titles = dict(checks.choices())
        context = {
            **self.admin_site.each_context(request),
            "title": f"Readiness review: {release}",
            "opts": self.model._meta,
            "release": release,
            "review": review,
            "items": [
                {
                    "item": i,
                    "tone": STATE_TONES.get(i.state, "grey"),
                    "check_title": titles.get(i.check_key, ""),
                    "can_waive": permissions.can_waive(request.user, i, managers),
                    "waiver_needs_manager": permissions.waiver_needs_manager(i),
                }
                for i in items
            ],
            "signatures": sigs,
            "missing": missing,
            "gate": gate,
            "can_edit": permissions.can_edit_items(request.user),
            "can_plan": permissions.can_plan(request.user),
            "can_sign": can_sign,
            "sign_off": sign_off,
            "four_eyes": four_eyes,
            "owning_managers": owning_managers,
            "states": ReviewItem.State.choices,
            "percent": selectors.readiness_percent(items),
            "status_badge": self.status_badge(release),
            "risk_badge": self.risk_badge(release),
            "change_url": reverse("admin:readiness_release_change", args=[pk]),
        }
        return TemplateResponse(request, "admin/readiness/release/review.html", context)


class TemplateItemInline(admin.TabularInline):
    model = TemplateItem
    extra = 0
    fields = [
        "position",
        "key",
        "title",
        "guidance",
        "required",
        "required_for_high_risk",
        "evidence_required",
        "check_key",
    ]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "check_key":
            return forms.ChoiceField(
                choices=[("", "- none -"), *checks.choices()], required=False, label="Automatic check"
            )
        return super().formfield_for_dbfield(db_field, request, **kwargs)


@admin.register(ReadinessTemplate)
class ReadinessTemplateAdmin(ServiceHistoryAdmin):
    list_display = ["name", "is_default", "risk_levels", "manager_signoff", "item_count"]
    inlines = [TemplateItemInline]

    def _save(self, request, obj, form, formsets):
        items, removed = (None, ())
        for formset in formsets:
            items, removed = self.inline_rows(request, formset)
        return services.save_template(
            template=obj, actor=request.user, items=items, removed_items=removed, **self.values(form)
        )

    def create_object(self, request, form, formsets):
        return self._save(request, None, form, formsets)

    def update_object(self, request, obj, form, formsets):
        return self._save(request, obj, form, formsets)

    def delete_object(self, request, obj):
        services.delete_template(template=obj, actor=request.user)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_items=count_subquery(TemplateItem, "template"))

    @admin.display(description="Items", ordering="_items")
    def item_count(self, obj):
        return obj._items
