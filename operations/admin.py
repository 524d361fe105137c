"""Admin for the register: health badges, filters, check-in and reassign (through the services)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from operations import cadence, permissions, selectors, services
from operations.models import HEALTH_TONES, CheckIn, Health, Responsibility
from opsportal.admin_base import ServiceHistoryAdmin
from opsportal.badges import badge
from opsportal.errors import ServiceError

CYCLE_TONES = {"done": "green", "late": "yellow", "missed": "red", "overdue": "red", "upcoming": "blue"}


def health_badge(health: str) -> str:
    return badge(Health(health).label, HEALTH_TONES[health])


class HealthFilter(admin.SimpleListFilter):
    title = "health"
    parameter_name = "health"

    def lookups(self, request, model_admin):
        return Health.choices

    def queryset(self, request, queryset):
        if self.value() in Health.values:
            return queryset.with_health(self.value(), timezone.now())
        return queryset


class ResponsibilityForm(forms.ModelForm):
    class Meta:
        model = Responsibility
        fields = [
            "title", "team", "area", "area_other", "definition_of_done", "services", "active", "owner", "backup",
            "cadence", "first_due_on", "due_time", "cron_expression", "time_zone", "remind_before",
        ]  # fmt: skip

    def _post_clean(self):
        super()._post_clean()
        if self.errors:
            return
        try:
            services.validate(responsibility=self.instance)
        except ServiceError as exc:
            field = exc.field if exc.field in self.fields else None
            self.add_error(field, exc.message)


class PersonChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        name = obj.get_full_name()
        return f"{name} ({obj.username})" if name else obj.username


def _people():
    return get_user_model().objects.filter(is_active=True).order_by("first_name", "last_name", "username")


class ReassignForm(forms.Form):
    owner = PersonChoiceField(queryset=_people(), required=False, empty_label="(nobody - unowned)")
    backup = PersonChoiceField(queryset=_people(), required=False, empty_label="(no backup)")
    keep_backup = forms.BooleanField(required=False, initial=False, label="Keep each duty's current backup")

    def __init__(self, *args, bulk: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = _people()
        self.fields["backup"].queryset = _people()
        if not bulk:
            del self.fields["keep_backup"]


class CheckInForm(forms.Form):
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=2000)
    evidence_url = forms.URLField(
        required=False, assume_scheme="https", label="Evidence link", max_length=500
    )
    done_at = forms.DateTimeField(
        required=False, help_text="Leave empty for now; back-date it if you did it earlier.", label="Done at"
    )


@admin.register(Responsibility)
class ResponsibilityAdmin(ServiceHistoryAdmin):
    form = ResponsibilityForm
    list_display = [
        "title", "team", "area_col", "owner", "backup", "cadence_col", "next_due", "health_col", "last_done",
    ]  # fmt: skip
    list_select_related = ["team", "owner", "backup"]
    list_filter = [
        HealthFilter,
        "team",
        ("owner", admin.RelatedOnlyFieldListFilter),
        "area",
        "cadence",
        "active",
    ]
    search_fields = [
        "title",
        "definition_of_done",
        "area_other",
        "team__name",
        "owner__username",
        "owner__last_name",
    ]
    autocomplete_fields = ["team", "services", "owner", "backup"]
    actions = ["check_in_now", "reassign_selected"]
    readonly_fields = [
        "health_now",
        "next_due_display",
        "last_done_display",
        "cycles",
        "created_at",
        "updated_at",
    ]
    fieldsets = [
        (
            None,
            {"fields": ["title", "team", "area", "area_other", "definition_of_done", "services", "active"]},
        ),
        ("People", {"fields": ["owner", "backup"]}),
        (
            "Cadence",
            {
                "fields": [
                    "cadence",
                    "first_due_on",
                    "due_time",
                    "cron_expression",
                    "time_zone",
                    "remind_before",
                ]
            },
        ),
        ("Status", {"fields": ["health_now", "next_due_display", "last_done_display", "cycles"]}),
        ("Record", {"fields": ["created_at", "updated_at"], "classes": ["collapse"]}),
    ]

    def get_queryset(self, request):
        return selectors.with_last_check_in(super().get_queryset(request))

    # --- columns -------------------------------------------------------------------------
    @admin.display(description="Area", ordering="area")
    def area_col(self, obj):
        return obj.area_label

    @admin.display(description="Cadence", ordering="cadence")
    def cadence_col(self, obj):
        try:
            short = obj.schedule().describe(with_zone=False)
        except ValueError:
            short = obj.get_cadence_display()
        return format_html(
            '<span title="{}">{}</span>', obj.time_zone, short.replace(" (last day in shorter months)", "")
        )

    @admin.display(description="Next due", ordering="next_due_at")
    def next_due(self, obj):
        return format_html(
            '<time datetime="{}">{}</time>',
            obj.next_due_at.isoformat(),
            timezone.localtime(obj.next_due_at).strftime("%Y-%m-%d %H:%M"),
        )

    @admin.display(description="Health")
    def health_col(self, obj):
        if not obj.active:
            return badge("Retired", "grey")
        return health_badge(obj.health_at(timezone.now()))

    @admin.display(description="Last done", ordering="last_done_at")
    def last_done(self, obj):
        if obj.last_done_at is None:
            return "never"
        return timezone.localtime(obj.last_done_at).strftime("%Y-%m-%d %H:%M")

    # --- change form ---------------------------------------------------------------------
    @admin.display(description="Health")
    def health_now(self, obj):
        return self.health_col(obj) if obj.pk else "-"

    @admin.display(description="Next due")
    def next_due_display(self, obj):
        if not obj.pk:
            return "Computed from the cadence when saved."
        local = obj.next_due_at.astimezone(obj.schedule().zone)
        missed = selectors.overdue_cycles(obj, timezone.now())
        extra = f" - {missed} cycle(s) overdue" if missed else ""
        return f"{local:%a %d %b %Y %H:%M} ({obj.time_zone}){extra}"

    @admin.display(description="Last done")
    def last_done_display(self, obj):
        if not obj.pk or obj.last_done_at is None:
            return "never"
        return timezone.localtime(obj.last_done_at).strftime("%Y-%m-%d %H:%M")

    @admin.display(description="Cycles (newest first)")
    def cycles(self, obj):
        if not obj.pk:
            return "-"
        rows = selectors.cycle_history(obj, now=timezone.now())
        if not rows:
            return "No due point has passed yet."
        zone = obj.schedule().zone
        streak = cadence.streak(rows)

        def describe(cycle):
            entry = cycle.check_in
            if entry is None:
                return ""
            link = (
                format_html(' - <a href="{}">evidence</a>', entry.evidence_url) if entry.evidence_url else ""
            )
            return format_html(
                "{} at {}{}{}",
                entry.done_by,
                timezone.localtime(entry.done_at).strftime("%Y-%m-%d %H:%M"),
                format_html(": {}", entry.note) if entry.note else "",
                link,
            )

        table = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    c.due_at.astimezone(zone).strftime("%a %d %b %Y %H:%M"),
                    badge(c.status.title(), CYCLE_TONES[c.status]),
                    describe(c),
                )
                for c in rows
            ),
        )
        return format_html(
            '<p>On-time streak: <strong>{}</strong></p><table class="op-cycles"><thead><tr><th>Due</th>'
            "<th>Status</th><th>Check-in</th></tr></thead><tbody>{}</tbody></table>",
            streak,
            table,
        )

    def create_object(self, request, form, formsets):
        return self.update_object(request, form.instance, form, formsets)

    def update_object(self, request, obj, form, formsets):
        fields = self.values(form)
        return services.save_responsibility(
            actor=request.user, responsibility=obj, services=fields.pop("services", None), **fields
        )

    def delete_object(self, request, obj):
        services.delete_responsibility(responsibility=obj, actor=request.user)

    # --- extra views ---------------------------------------------------------------------
    def get_urls(self):
        extra = [
            path(
                "<int:pk>/reassign/",
                self.admin_site.admin_view(self.reassign_view),
                name="operations_responsibility_reassign",
            ),
            path(
                "<int:pk>/check-in/",
                self.admin_site.admin_view(self.check_in_view),
                name="operations_responsibility_check_in",
            ),
        ]
        return extra + super().get_urls()

    def _get_duty(self, request, pk):
        duty = get_object_or_404(self.get_queryset(request).select_related("team", "owner", "backup"), pk=pk)
        if not self.has_view_permission(request, duty):
            raise PermissionDenied
        return duty

    def _back(self, request, duty):
        target = request.POST.get("next") or request.GET.get("next") or ""
        if target.startswith("/") and not target.startswith("//"):
            return HttpResponseRedirect(target)
        return HttpResponseRedirect(reverse("admin:operations_responsibility_change", args=[duty.pk]))

    def reassign_view(self, request, pk):
        duty = self._get_duty(request, pk)
        if not permissions.can_manage(request.user, duty):
            raise PermissionDenied
        form = ReassignForm(request.POST or None, initial={"owner": duty.owner, "backup": duty.backup})
        if request.method == "POST" and form.is_valid():
            try:
                services.reassign(
                    responsibility=duty,
                    actor=request.user,
                    owner=form.cleaned_data["owner"],
                    backup=form.cleaned_data["backup"],
                )
            except ServiceError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                duty.refresh_from_db()
                self.message_user(
                    request, f"{duty.title} is now owned by {duty.owner or 'nobody'}.", messages.SUCCESS
                )
                return self._back(request, duty)
        return TemplateResponse(
            request,
            "admin/operations/responsibility/reassign.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": f"Reassign {duty.title}",
                "duties": [duty],
                "form": form,
                "next": request.GET.get("next", ""),
            },
        )

    def check_in_view(self, request, pk):
        duty = self._get_duty(request, pk)
        if not permissions.can_check_in(request.user, duty):
            raise PermissionDenied
        form = CheckInForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                entry = services.check_in(
                    responsibility=duty,
                    actor=request.user,
                    note=form.cleaned_data["note"],
                    evidence_url=form.cleaned_data["evidence_url"],
                    done_at=form.cleaned_data["done_at"],
                    via=CheckIn.Via.ADMIN,
                )
            except ServiceError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                self.message_user(request, _check_in_message(entry), messages.SUCCESS)
                return self._back(request, duty)
        return TemplateResponse(
            request,
            "admin/operations/responsibility/check_in.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": f"Check in {duty.title}",
                "duty": duty,
                "form": form,
            },
        )

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context["can_check_in"] = permissions.can_check_in(request.user, obj)
            context["can_reassign"] = permissions.can_manage(request.user, obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    # --- actions ---------------------------------------------------------------------------
    @admin.action(description="Check in selected duties (done now)")
    def check_in_now(self, request, queryset):
        self.for_each(
            request,
            queryset,
            lambda duty: services.check_in(responsibility=duty, actor=request.user, via=CheckIn.Via.ADMIN),
            done="Checked in {n} duty(ies).",
            label=lambda duty: duty.title,
        )

    def has_reassign_permission(self, request):
        return permissions.can_reassign_any(request.user)

    @admin.action(description="Reassign selected duties", permissions=["reassign"])
    def reassign_selected(self, request, queryset):
        form = ReassignForm(request.POST if "apply" in request.POST else None, bulk=True)
        if "apply" in request.POST and form.is_valid():
            changes = {"owner": form.cleaned_data["owner"]}
            if not form.cleaned_data["keep_backup"]:
                changes["backup"] = form.cleaned_data["backup"]
            self.for_each(
                request,
                queryset,
                lambda duty: services.reassign(responsibility=duty, actor=request.user, **changes),
                done="Reassigned {n} duty(ies).",
                label=lambda duty: duty.title,
            )
            return None
        return TemplateResponse(
            request,
            "admin/operations/responsibility/reassign.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": "Reassign duties",
                "duties": list(queryset.select_related("team", "owner", "backup")),
                "form": form,
                "bulk": True,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            },
        )


def _check_in_message(entry: CheckIn) -> str:
    when = timezone.localtime(entry.responsibility.next_due_at).strftime("%Y-%m-%d %H:%M")
    late = " (late)" if entry.late else ""
    missed = f"; {entry.missed_before} earlier cycle(s) recorded as missed" if entry.missed_before else ""
    return f"{entry.responsibility.title} checked in{late}{missed}. Next due {when}."


@admin.register(CheckIn)
class CheckInAdmin(ServiceHistoryAdmin):
    """The record of cycles done. Read-only: check-ins are made on the duty (they move its clock)."""

    list_display = ["responsibility", "team", "done_by", "done_at", "covers_due_at", "late_col", "via"]
    list_select_related = ["responsibility", "responsibility__team", "done_by"]
    list_filter = ["late", "via", "responsibility__team"]
    search_fields = ["responsibility__title", "note", "done_by__username"]
    date_hierarchy = "done_at"

    @admin.display(description="Team", ordering="responsibility__team__name")
    def team(self, obj):
        return obj.responsibility.team

    @admin.display(description="On time", ordering="late")
    def late_col(self, obj):
        missed = f", {obj.missed_before} missed before" if obj.missed_before else ""
        return badge("Late" + missed, "yellow") if obj.late else badge("On time", "green")
