from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from opsportal.admin_base import ServiceHistoryAdmin
from opsportal.parsing import parse_id
from runbooks import markdown, permissions, selectors, services
from runbooks.badges import freshness_badge
from runbooks.models import Runbook


class FreshnessFilter(admin.SimpleListFilter):
    title = "freshness"
    parameter_name = "freshness"

    def lookups(self, request, model_admin):
        return Runbook.Freshness.choices

    def queryset(self, request, queryset):
        if self.value() in Runbook.Freshness.values:
            return queryset.filter(selectors.freshness_q(self.value()))
        return queryset


class ServiceFilter(admin.SimpleListFilter):
    """Services that have at least one runbook (a list of every service would be noise)."""

    title = "service"
    parameter_name = "service"

    def lookups(self, request, model_admin):
        through = Runbook.services.through
        rows = (
            through.objects.values_list("service_id", "service__name")
            .distinct()
            .order_by("service__name")[:200]
        )
        return [(str(pk), name) for pk, name in rows]

    def queryset(self, request, queryset):
        if parse_id(self.value()) is not None:
            through = Runbook.services.through
            return queryset.filter(
                pk__in=through.objects.filter(service_id=parse_id(self.value())).values("runbook_id")
            )
        return queryset


class RecordTestForm(forms.Form):
    evidence_url = forms.URLField(
        label="Evidence link", required=False, assume_scheme="https", max_length=500,
        help_text="Game day notes, incident, recording.",
    )  # fmt: skip
    evidence_note = forms.CharField(
        label="What was exercised", required=False, widget=forms.Textarea(attrs={"rows": 4})
    )

    def clean(self):
        data = super().clean()
        if not data.get("evidence_url") and not (data.get("evidence_note") or "").strip():
            raise forms.ValidationError("Give evidence: a link or a note.")
        return data


@admin.register(Runbook)
class RunbookAdmin(ServiceHistoryAdmin):
    list_display = [
        "title",
        "owner_team",
        "service_list",
        "freshness_column",
        "last_reviewed_at",
        "last_tested_at",
    ]
    list_select_related = ["owner_team"]
    list_filter = [FreshnessFilter, ("owner_team", admin.RelatedOnlyFieldListFilter), ServiceFilter]
    search_fields = ["title"]  # shows the box; get_search_results uses the ranked search
    search_help_text = "Full-text search over title, scenarios, steps and body."
    prepopulated_fields = {"slug": ["title"]}
    autocomplete_fields = ["owner_team", "services"]
    actions = ["mark_reviewed", "record_test"]
    show_full_result_count = False
    readonly_fields = [
        "freshness_column", "review_due_at", "stale_at", "last_reviewed_at", "reviewed_by", "review_note",
        "last_tested_at", "tested_by", "evidence_link", "test_evidence_note", "page_link", "preview",
        "created_at", "updated_at",
    ]  # fmt: skip
    fieldsets = [
        (None, {"fields": ["title", "slug", "page_link", "owner_team", "services", "summary"]}),
        ("When to use it", {"fields": ["scenarios"]}),
        ("Steps (Markdown)", {"fields": ["diagnostic_steps", "mitigation", "rollback", "escalation_notes"]}),
        ("Background (Markdown)", {"fields": ["body"]}),
        (
            "Freshness",
            {
                "fields": [
                    "freshness_column",
                    "review_interval_days",
                    "review_due_at",
                    "stale_at",
                    "last_reviewed_at",
                    "reviewed_by",
                    "review_note",
                    "last_tested_at",
                    "tested_by",
                    "evidence_link",
                    "test_evidence_note",
                ]
            },
        ),
        ("Preview", {"fields": ["preview"]}),
        ("Record", {"fields": ["created_at", "updated_at"], "classes": ["collapse"]}),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("services")

    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip():
            return queryset, False
        return selectors.search(search_term, queryset=queryset), False

    # -- columns -------------------------------------------------------------------------

    @admin.display(description="Services")
    def service_list(self, obj):
        rows = list(obj.services.all())
        if not rows:
            return format_html('<span class="op-muted">{}</span>', "none")
        return format_html_join(", ", "{}", ((s.name,) for s in rows))

    @admin.display(description="Freshness", ordering="review_due_at")
    def freshness_column(self, obj):
        if not obj.pk:
            return "-"
        return freshness_badge(obj)

    @admin.display(description="Evidence link")
    def evidence_link(self, obj):
        if not obj.test_evidence_url:
            return "-"
        return format_html(
            '<a href="{}" rel="noopener noreferrer">{}</a>', obj.test_evidence_url, obj.test_evidence_url
        )

    @admin.display(description="Read-only page")
    def page_link(self, obj):
        if not obj.pk:
            return "-"
        url = obj.get_absolute_url()
        return format_html('<a href="{}">{}</a>', url, url)

    @admin.display(description="Rendered")
    def preview(self, obj):
        if not obj.pk:
            return "Save to see the rendered runbook."
        sections = [
            ("Diagnostic steps", obj.diagnostic_steps),
            ("Mitigation", obj.mitigation),
            ("Rollback", obj.rollback),
            ("Escalation", obj.escalation_notes),
            ("Background", obj.body),
        ]
        return format_html(
            '<div class="op-runbook-preview">{}</div>',
            format_html_join(
                "", "<h3>{}</h3>{}", ((title, markdown.render(text)) for title, text in sections if text)
            ),
        )

    # -- writes go through the services ----------------------------------------------------

    def _save(self, request, obj, form):
        fields = {k: v for k, v in form.cleaned_data.items() if k in services.EDITABLE_FIELDS}
        return services.save_runbook(
            actor=request.user, runbook=obj, services=form.cleaned_data.get("services"), **fields
        )

    def create_object(self, request, form, formsets):
        return self._save(request, form.instance, form)

    def update_object(self, request, obj, form, formsets):
        return self._save(request, obj, form)

    def delete_object(self, request, obj):
        services.delete_runbook(runbook=obj, actor=request.user)

    def revert_disabled(self, request, obj=None):
        return not self.has_change_permission(request, obj)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        """The history page's "Revert" button restores through services.restore_version."""
        if request.method != "POST":
            return super().history_form_view(request, object_id, version_id, extra_context)
        runbook = self.visible_object(request, object_id)
        if not self.has_change_permission(request, runbook):
            raise PermissionDenied
        version = str(version_id)
        self.run_service(
            request,
            services.restore_version,
            runbook=runbook,
            history_id=parse_id(version) or 0,
            actor=request.user,
            success=f"Restored the version {version_id} of {runbook.title}.",
        )
        return HttpResponseRedirect(reverse("admin:runbooks_runbook_change", args=[runbook.pk]))

    # -- actions ---------------------------------------------------------------------------

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not permissions.can_edit(request.user):
            actions.pop("mark_reviewed", None)
            actions.pop("record_test", None)
        return actions

    @admin.action(description="Mark reviewed (the steps are still right)")
    def mark_reviewed(self, request, queryset):
        self.for_each(
            request,
            queryset[:200],
            lambda runbook: services.mark_reviewed(runbook=runbook, actor=request.user),
            done="Marked {n} runbook(s) reviewed.",
        )

    @admin.action(description="Record test (game day, drill or incident) with evidence")
    def record_test(self, request, queryset):
        selected = list(queryset[:200])
        form = RecordTestForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():

            def record_all():
                for runbook in selected:
                    services.record_test(
                        runbook=runbook,
                        actor=request.user,
                        evidence_url=form.cleaned_data["evidence_url"],
                        evidence_note=form.cleaned_data["evidence_note"],
                    )

            self.run_service(request, record_all, success=f"Recorded a test of {len(selected)} runbook(s).")
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Record a runbook test",
            "opts": self.model._meta,
            "runbooks": selected,
            "form": form,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            "now": timezone.now(),
        }
        return TemplateResponse(request, "admin/runbooks/runbook/record_test.html", context)
