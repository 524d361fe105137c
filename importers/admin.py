"""The import page: a manager starts a dry run (a Celery task reads the source and stores the
plan), reads the plan, applies it (the same task, applying) and reads the verification report.
Rows are written only by importers.services; the run page is read-only."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.utils.html import format_html, format_html_join

from importers import planner, services
from importers.models import ImportRun
from opsportal.admin_base import ServiceModelAdmin

ACTION_TONES = {"create": "#1a7f37", "update": "#9a6700", "skip": "#57606a", "cannot map": "#cf222e"}


class ImportRunForm(forms.ModelForm):
    api_key = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Stored encrypted for the run and wiped when it finishes. Empty: the server's "
        "IMPORT_<SOURCE>_API_KEY.",
    )

    class Meta:
        model = ImportRun
        fields = ["source", "base_url", "api_key", "create_missing_users"]


@admin.register(ImportRun)
class ImportRunAdmin(ServiceModelAdmin):
    form = ImportRunForm
    change_form_template = "admin/importers/importrun/change_form.html"
    list_display = ["__str__", "source", "status", "progress_display", "started_by", "created_at"]
    list_filter = ["source", "status"]
    list_select_related = ["started_by"]
    actions = ["apply_plan"]
    readonly_fields = ["source", "base_url", "status", "progress_display", "started_by", "created_at", "finished_at",
                       "summary_display", "plan_display", "report_display", "verification_display"]  # fmt: skip

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["source", "base_url", "api_key", "create_missing_users"]
        return self.readonly_fields

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    def create_object(self, request, form, formsets):
        data = form.cleaned_data
        return services.start_run(actor=request.user, source=data["source"], base_url=data.get("base_url") or "",
                                  api_key=data.get("api_key") or "",
                                  create_missing_users=data.get("create_missing_users", False))  # fmt: skip

    @admin.action(description="Apply the plan of the selected dry runs", permissions=["add"])
    def apply_plan(self, request, queryset):
        self.for_each(
            request, queryset, lambda run: services.start_apply(run=run, actor=request.user),
            done="Applying {labels}: this page shows the progress and then the verification.",
        )  # fmt: skip

    @admin.display(description="Progress")
    def progress_display(self, obj):
        return f"{obj.progress} % {obj.progress_note}".strip()

    @admin.display(description="Summary")
    def summary_display(self, obj):
        rows = planner.summary(obj.plan)
        if not rows:
            return "-"
        return format_html_join(
            "", "<div><b>{}</b>: {}</div>",
            ((group, ", ".join(f"{n} {a}" for a, n in sorted(c.items()))) for group, c in rows.items()),
        )  # fmt: skip

    @admin.display(description="Plan")
    def plan_display(self, obj):
        if not obj.plan:
            return "-"
        body = format_html_join(
            "", '<tr><td>{}</td><td style="color:{}"><b>{}</b></td><td>{}</td><td>{}</td></tr>',
            ((r["group"], ACTION_TONES.get(r["action"], "inherit"), r["action"], r["name"], r["reason"]) for r in obj.plan),
        )  # fmt: skip
        return format_html(
            '<table class="import-plan"><thead><tr><th>Group</th><th>Action</th><th>Object</th><th>Why</th></tr>'
            "</thead><tbody>{}</tbody></table>",
            body,
        )

    @admin.display(description="Report")
    def report_display(self, obj):
        return format_html_join("", "<div>{}</div>", ((line,) for line in obj.report)) if obj.report else "-"

    @admin.display(description="Verification (next 4 weeks, shift by shift)")
    def verification_display(self, obj):
        if not obj.verification:
            return "-"
        rows = []
        for v in obj.verification:
            if not v.get("mapped"):
                rows.append((v["schedule"], "not mapped", v.get("reason", ""), ""))
            elif v.get("agreement") is None:
                rows.append((v["schedule"], "not verified", v.get("reason", ""), ""))
            else:
                diffs = "; ".join(
                    f"source {d['source']} / Ops Portal {d['portal']}" for d in v["differences"]
                )
                rows.append((v["schedule"], f"{v['agreement']} % agreement",
                             f"{v['source_shifts']} shifts in the source, {v['portal_shifts']} in Ops Portal", diffs))  # fmt: skip
        return format_html(
            '<table class="import-verification"><thead><tr><th>Schedule</th><th>Result</th><th>Shifts</th>'
            "<th>Differences</th></tr></thead><tbody>{}</tbody></table>",
            format_html_join("", "<tr><td>{}</td><td><b>{}</b></td><td>{}</td><td>{}</td></tr>", rows),
        )
