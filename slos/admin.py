"""SLO admin: define SLOs (through ``slos.services``), preview the SLI and budget of the last
window before saving, read burn alerts."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.utils import timezone
from django.utils.html import format_html

from opsportal.admin_base import ServiceHistoryAdmin, ServiceModelAdmin
from probes.models import Probe
from slos import selectors, services
from slos.models import SLO, BurnAlert


class SLOForm(forms.ModelForm):
    probes = forms.ModelMultipleChoiceField(
        queryset=Probe.objects.exclude(kind=Probe.Kind.HEARTBEAT)
        .select_related("service")
        .order_by("service__name", "name"),
        required=False,
        widget=admin.widgets.FilteredSelectMultiple("probes", is_stacked=False),
        help_text="Probe SLIs: probes of the SLO's service whose scheduled checks count.",
    )

    class Meta:
        model = SLO
        fields = [
            "service", "name", "kind", "objective", "window", "owner_team", "description", "probes",
            "degraded_is_good", "latency_threshold_ms", "prometheus_good_query", "prometheus_total_query",
            "burn_rules", "open_incident", "incident_severity", "is_active",
        ]  # fmt: skip


def preview_text(slo: SLO, budget) -> str:
    """ "With these probes, the last 28 days were 99.82 %: 18 % of budget left"."""
    days = "this calendar month" if slo.window == SLO.Window.MONTH else f"the last {slo.window[:-1]} days"
    if not budget.has_data:
        return f"With these settings, {days} have no data yet: the budget is untouched."
    sli = f"{budget.sli * 100:.2f} %"
    remaining = budget.remaining
    left = "the budget is exhausted" if budget.exhausted else f"{remaining * 100:.0f} % of budget left"
    return f"With these probes, {days} were {sli} ({budget.good} good of {budget.total} checks): {left}."


@admin.register(SLO)
class SLOAdmin(ServiceHistoryAdmin):
    form = SLOForm
    change_form_template = "admin/slos/slo/change_form.html"
    list_display = ["name", "service", "kind", "objective_col", "window", "sli_col", "budget_col", "burn_col"]
    list_select_related = ["service", "owner_team"]
    list_filter = ["kind", "window", "is_active", ("owner_team", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["name", "service__name", "description"]
    autocomplete_fields = ["service", "owner_team"]
    readonly_fields = ["budget_now"]
    fieldsets = [
        (None, {"fields": ["service", "name", "kind", "objective", "window", "owner_team", "description", "is_active"]}),
        ("Probe SLIs", {"fields": ["probes", "degraded_is_good", "latency_threshold_ms"]}),
        ("Prometheus ratio", {"classes": ["collapse"], "fields": ["prometheus_good_query", "prometheus_total_query"]}),
        ("Burn-rate alerting", {"fields": ["burn_rules", "open_incident", "incident_severity"]}),
    ]  # fmt: skip

    def get_fieldsets(self, request, obj=None):
        if obj is not None:
            return [("Budget now", {"fields": ["budget_now"]}), *self.fieldsets]
        return self.fieldsets

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else []

    def get_changelist_instance(self, request):
        cl = super().get_changelist_instance(request)
        # Two window-sum queries and one alert query for the whole page.
        st = {s.slo.pk: s for s in selectors.statuses(list(cl.result_list), now=timezone.now())}
        for slo in cl.result_list:
            slo._status = st.get(slo.pk)
        return cl

    @admin.display(description="Objective", ordering="objective")
    def objective_col(self, obj):
        return f"{obj.objective.normalize():f} %"

    @admin.display(description="SLI (window)")
    def sli_col(self, obj):
        st = getattr(obj, "_status", None)
        return "no data" if st is None or st.budget.sli is None else f"{st.budget.sli * 100:.3f} %"

    @admin.display(description="Budget left")
    def budget_col(self, obj):
        st = getattr(obj, "_status", None)
        return selectors.fmt_pct(st.budget.remaining if st else None)

    @admin.display(description="Burn (1 h)")
    def burn_col(self, obj):
        st = getattr(obj, "_status", None)
        return selectors.fmt_rate(st.burn_1h if st else None)

    @admin.display(description="Budget")
    def budget_now(self, obj):
        st = selectors.statuses([obj], now=timezone.now())[0]
        return format_html(
            "SLI {} · {} · burn rate (1 h) {} · {} open alert(s)",
            "no data" if st.budget.sli is None else f"{st.budget.sli * 100:.3f} %",
            st.label,
            selectors.fmt_rate(st.burn_1h),
            len(st.open_alerts),
        )

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if request.method == "POST" and "_preview" in request.POST:
            return self._preview(request, object_id, form_url)
        return super().changeform_view(request, object_id, form_url, extra_context)

    def _preview(self, request, object_id, form_url):
        """Validate the posted form and show the SLI and budget it would have over the last
        window, computed from raw probe results; nothing is saved."""
        obj = self.get_object(request, unquote(object_id)) if object_id else None
        add = obj is None
        if object_id and obj is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if (add and not self.has_add_permission(request)) or (
            not add and not self.has_change_permission(request, obj)
        ):
            raise PermissionDenied
        form = self.get_form(request, obj, change=not add)(request.POST, request.FILES, instance=obj)
        preview = None
        if form.is_valid():
            candidate = form.instance
            if candidate.kind in (SLO.Kind.PROBE_AVAILABILITY, SLO.Kind.PROBE_LATENCY):
                budget = selectors.preview(
                    candidate, list(form.cleaned_data.get("probes") or []), now=timezone.now()
                )
                preview = preview_text(candidate, budget)
            else:
                preview = "The preview reads raw probe results: it is available for probe SLIs only."
        fieldsets = self.get_fieldsets(request, obj)
        admin_form = helpers.AdminForm(
            form, list(fieldsets), self.get_prepopulated_fields(request, obj), self.get_readonly_fields(request, obj),
            model_admin=self,
        )  # fmt: skip
        context = {
            **self.admin_site.each_context(request),
            "title": f"{'Add' if add else 'Change'} SLO",
            "subtitle": None,
            "adminform": admin_form,
            "object_id": object_id,
            "original": obj,
            "is_popup": False,
            "to_field": None,
            "media": self.media + admin_form.media,
            "inline_admin_formsets": [],
            "errors": helpers.AdminErrorList(form, []),
            "preserved_filters": self.get_preserved_filters(request),
            "slo_preview": preview,
        }
        return self.render_change_form(request, context, add=add, change=not add, obj=obj, form_url=form_url)

    def create_object(self, request, form, formsets):
        return services.save_slo(actor=request.user, **self.values(form))

    def update_object(self, request, obj, form, formsets):
        return services.save_slo(slo=obj, actor=request.user, **self.values(form))

    def delete_object(self, request, obj):
        services.delete_slo(slo=obj, actor=request.user)


@admin.register(BurnAlert)
class BurnAlertAdmin(ServiceModelAdmin):
    """Read-only: the sweep opens and resolves burn alerts."""

    list_display = [
        "slo",
        "severity",
        "status",
        "factor",
        "burn_started_at",
        "detected_at",
        "resolved_at",
        "page",
    ]
    list_select_related = ["slo__service", "page"]
    list_filter = ["severity", "status"]
    search_fields = ["slo__name", "slo__service__name"]
    show_full_result_count = False
