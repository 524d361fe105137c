from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from opsportal.admin_base import ServiceHistoryAdmin, ServiceModelAdmin
from opsportal.badges import badge
from opsportal.errors import ServiceError
from opsportal.links import absolute_reverse
from probes import permissions, selectors, services
from probes.models import RUNTIME_FIELDS, MaintenanceWindow, Probe, ProbeAlert

STATE_TONES = {
    Probe.State.UP: "green",
    Probe.State.DEGRADED: "yellow",
    Probe.State.DOWN: "red",
    Probe.State.PAUSED: "grey",
    Probe.State.NEW: "blue",
}
OUTCOME_TONES = {"up": "green", "degraded": "yellow", "down": "red"}


def state_badge(state: str, label: str) -> str:
    return badge(label, STATE_TONES.get(state, "grey"))


class HeadersField(forms.CharField):
    """Headers as "Name: value" lines; stored values come back masked (services keep them)."""

    widget = forms.Textarea(attrs={"rows": 3, "cols": 60, "placeholder": "Authorization: Bearer ..."})

    def prepare_value(self, value):
        if isinstance(value, dict):
            return "\n".join(f"{k}: {services.mask_secret(v)}" for k, v in value.items())
        return value

    def to_python(self, value):
        headers = {}
        for number, line in enumerate((value or "").splitlines(), start=1):
            if not line.strip():
                continue
            name, sep, rest = line.partition(":")
            if not sep or not name.strip():
                raise forms.ValidationError(f'Line {number}: write headers as "Name: value".')
            headers[name.strip()] = rest.strip()
        return headers


class ServiceErrorsForm(forms.ModelForm):
    """Runs the service's validation after the instance is built, so refusals show as
    field errors on the form instead of failing in save_model."""

    validator = None

    def _post_clean(self):
        super()._post_clean()
        try:
            type(self).validator(self.instance)
        except ServiceError as exc:
            self.add_error(exc.field if exc.field in self.fields else None, exc.message)


class ProbeForm(ServiceErrorsForm):
    headers = HeadersField(required=False, help_text="One per line. Stored values are shown masked.")
    validator = staticmethod(services.validate_probe)

    class Meta:
        model = Probe
        fields = [
            f.name
            for f in Probe._meta.concrete_fields
            if f.editable and f.name not in {"id", *RUNTIME_FIELDS}
        ]

    def clean_headers(self):
        old = self.instance.headers if self.instance.pk else {}
        try:
            return services.merge_headers(self.cleaned_data["headers"], old)
        except ServiceError as exc:
            raise forms.ValidationError(exc.message) from exc


class ProbeChangeList(ChangeList):
    def get_results(self, request):
        super().get_results(request)
        # Two queries for the whole page: 24 h uptime (grouped) and the sparkline series
        # (window function), whatever the page size.
        ids = [p.pk for p in self.result_list]
        uptime = selectors.uptime(ids, since=timezone.now() - timedelta(hours=24))
        spark = selectors.sparklines(ids)
        for probe in self.result_list:
            probe._uptime_24h = uptime.get(probe.pk)
            probe._spark = spark.get(probe.pk, [])


class StateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("failing", "Down or degraded"), *Probe.State.choices]

    def queryset(self, request, queryset):
        if self.value() == "failing":
            return queryset.filter(state__in=[Probe.State.DOWN, Probe.State.DEGRADED])
        return queryset.filter(state=self.value()) if self.value() else queryset


class RunbookFilter(admin.SimpleListFilter):
    title = "runbook"
    parameter_name = "runbook"

    def lookups(self, request, model_admin):
        return [("missing", "Missing"), ("linked", "Linked")]

    def queryset(self, request, queryset):
        if self.value() == "missing":
            return queryset.filter(runbook__isnull=True)
        if self.value() == "linked":
            return queryset.filter(runbook__isnull=False)
        return queryset


@admin.register(Probe)
class ProbeAdmin(ServiceHistoryAdmin):
    form = ProbeForm
    secret_fields = ("headers",)  # e.g. Authorization: Bearer ...
    list_display = [
        "name", "service", "kind", "state_col", "last_check", "uptime_col", "spark_col", "cert_col", "runbook_col",
    ]  # fmt: skip
    list_select_related = ["service", "runbook"]
    list_filter = [
        StateFilter,
        "kind",
        RunbookFilter,
        ("service__owner_team", admin.RelatedOnlyFieldListFilter),
    ]
    search_fields = ["name", "url", "host", "service__name"]
    autocomplete_fields = ["service", "runbook"]
    actions = ["pause", "resume", "run_now"]
    show_full_result_count = False
    readonly_fields = [
        "state_col", "status_summary", "ping_urls", "uptime_summary", "certificate", "recent_results",
        "recent_events", "alerts",
    ]  # fmt: skip
    fieldsets = [
        (None, {"fields": ["name", "service", "kind", "runbook", "description"]}),
        ("Status", {"fields": ["state_col", "status_summary", "uptime_summary"]}),
        ("Schedule and flap suppression", {
            "fields": ["interval_seconds", "timeout_seconds", "failure_threshold", "success_threshold"]}),
        ("HTTP(S)", {"classes": ["collapse"], "fields": [
            "url", "method", "headers", "request_body", "expected_statuses", "body_contains", "json_path",
            "json_expected", "latency_threshold_ms", "follow_redirects"]}),
        ("TLS certificate / TCP", {"classes": ["collapse"], "fields": [
            "host", "port", "sni_name", "warn_days", "critical_days", "certificate"]}),
        ("Heartbeat", {"classes": ["collapse"], "fields": [
            "ping_urls", "period_seconds", "cron", "cron_timezone", "grace_seconds"]}),
        ("Alerting", {"fields": ["incident_severity"]}),
        ("Recent results", {"fields": ["recent_results"]}),
        ("Recent state changes", {"fields": ["recent_events", "alerts"]}),
    ]  # fmt: skip

    def get_changelist(self, request, **kwargs):
        return ProbeChangeList

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "headers_display"] if obj else []

    def get_fieldsets(self, request, obj=None):
        if obj is None:  # add form: configuration only
            return [
                (name, {**opts, "fields": [f for f in opts["fields"] if f not in self.readonly_fields]})
                for name, opts in self.fieldsets
                if any(f not in self.readonly_fields for f in opts["fields"])
            ]
        if not self.has_change_permission(request, obj):
            # Read-only page: the raw JSON would show the header values; show them masked.
            return [
                (
                    name,
                    {**opts, "fields": ["headers_display" if f == "headers" else f for f in opts["fields"]]},
                )
                for name, opts in self.fieldsets
            ]
        return self.fieldsets

    @admin.display(description="State", ordering="state")
    def state_col(self, obj):
        return state_badge(obj.state, obj.get_state_display())

    @admin.display(description="Last check", ordering="last_checked_at")
    def last_check(self, obj):
        if not obj.last_checked_at:
            return "never"
        error = f" - {obj.last_error}" if obj.last_error else ""
        return format_html(
            '<span title="{}{}">{}</span>',
            timezone.localtime(obj.last_checked_at).strftime("%Y-%m-%d %H:%M:%S"),
            error,
            f"{int((timezone.now() - obj.last_checked_at).total_seconds() // 60)} min ago",
        )

    @admin.display(description="Uptime 24 h")
    def uptime_col(self, obj):
        value = getattr(obj, "_uptime_24h", None)
        return "-" if value is None else f"{value:.2f}%"

    @admin.display(description="Last 30 results")
    def spark_col(self, obj):
        return mark_safe(selectors.sparkline_svg(getattr(obj, "_spark", [])))  # numbers only, no user text

    @admin.display(description="Certificate expires", ordering="cert_expires_at")
    def cert_col(self, obj):
        if not obj.cert_expires_at:
            return "-"
        days = (obj.cert_expires_at - timezone.now()).total_seconds() / 86400
        tone = "red" if days <= obj.critical_days else "orange" if days <= obj.warn_days else "green"
        return badge(f"{obj.cert_expires_at:%Y-%m-%d} ({days:.0f} d)", tone)

    @admin.display(description="Runbook")
    def runbook_col(self, obj):
        if obj.runbook_id is None:
            return badge(
                "missing", "orange", title="Link a runbook: responders need it and readiness checks it."
            )
        return format_html('<a href="{}">{}</a>', obj.runbook.get_absolute_url(), obj.runbook)

    @admin.display(description="Status")
    def status_summary(self, obj):
        rows = [
            ("Last check", obj.last_checked_at and timezone.localtime(obj.last_checked_at).strftime("%Y-%m-%d %H:%M:%S")),
            ("Last error", obj.last_error),
            ("Last latency", obj.last_latency_ms is not None and f"{obj.last_latency_ms:.0f} ms"),
            ("Last status code", obj.last_status_code),
            ("Consecutive failures / successes", f"{obj.consecutive_failures} / {obj.consecutive_successes}"),
            ("Next run / late after", obj.next_run_at and timezone.localtime(obj.next_run_at).strftime("%Y-%m-%d %H:%M:%S")),
            ("Last start-to-success duration", obj.last_duration_ms is not None and f"{obj.last_duration_ms / 1000:.1f} s"),
        ]  # fmt: skip
        return format_html_join(mark_safe("<br>"), "<b>{}</b>: {}", ((k, v) for k, v in rows if v))

    @admin.display(description="Uptime and latency")
    def uptime_summary(self, obj):
        now = timezone.now()
        windows = selectors.uptime_windows(obj, now=now)
        pct = selectors.latency_percentiles(obj, since=now - timedelta(hours=24))
        parts = [f"{name}: {'-' if v is None else f'{v:.2f}%'}" for name, v in windows.items()]
        latency = "-" if pct[0.5] is None else f"p50 {pct[0.5]:.0f} ms, p95 {pct[0.95]:.0f} ms (24 h)"
        return format_html("Uptime {}<br>Latency {}", " · ".join(parts), latency)

    @admin.display(description="Ping URLs")
    def ping_urls(self, obj):
        if obj.kind != Probe.Kind.HEARTBEAT:
            return "Only heartbeats take pings."
        urls = [
            absolute_reverse(name, ping_uuid=str(obj.uuid))
            for name in ("probes:ping", "probes:ping-start", "probes:ping-fail")
        ]
        return format_html_join(mark_safe("<br>"), "<code>{}</code>", ((u,) for u in urls))

    @admin.display(description="Certificate")
    def certificate(self, obj):
        if not obj.cert_expires_at:
            return "-"
        return format_html(
            "Expires {} · issuer {} · names {}", obj.cert_expires_at.strftime("%Y-%m-%d %H:%M UTC"),
            obj.cert_issuer, ", ".join(obj.cert_sans) or "-",
        )  # fmt: skip

    @admin.display(description="Recent results")
    def recent_results(self, obj):
        rows = selectors.recent_results(obj, limit=25)
        if not rows:
            return "No results yet."
        body = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    timezone.localtime(r.checked_at).strftime("%Y-%m-%d %H:%M:%S"),
                    badge(r.outcome, OUTCOME_TONES[r.outcome]),
                    r.get_source_display(),
                    "-" if r.latency_ms is None else f"{r.latency_ms:.0f} ms",
                    r.status_code or "-",
                    r.error or "",
                )
                for r in rows
            ),
        )
        return format_html(
            "<table><thead><tr><th>When</th><th>Outcome</th><th>Source</th><th>Latency</th><th>Status</th>"
            "<th>Error</th></tr></thead><tbody>{}</tbody></table>",
            body,
        )

    @admin.display(description="State changes")
    def recent_events(self, obj):
        rows = selectors.recent_events(obj, limit=25)
        if not rows:
            return "No state changes yet."
        return format_html_join(
            mark_safe("<br>"),
            "{} {} &rarr; {} <span class='op-muted'>{}</span>",
            (
                (
                    timezone.localtime(e.created_at).strftime("%Y-%m-%d %H:%M:%S"),
                    state_badge(e.from_state, e.get_from_state_display()),
                    state_badge(e.to_state, e.get_to_state_display()),
                    e.reason,
                )
                for e in rows
            ),
        )

    @admin.display(description="Alerts")
    def alerts(self, obj):
        rows = obj.alerts.order_by("-opened_at")[:10]
        if not rows:
            return "No alerts."
        return format_html_join(
            mark_safe("<br>"),
            '<a href="{}">{}</a> {} · {}',
            (
                (
                    a.get_absolute_url(),
                    timezone.localtime(a.opened_at).strftime("%Y-%m-%d %H:%M"),
                    a.get_status_display(),
                    a.get_disposition_display(),
                )
                for a in rows
            ),
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method == "GET":
            probe = self.get_object(request, object_id)
            if probe is not None and probe.runbook_id is None:
                self.message_user(
                    request, "This probe has no runbook: responders paged by it will have no instructions.",
                    messages.WARNING,
                )  # fmt: skip
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description="Headers")
    def headers_display(self, obj):
        headers = obj.headers or {}
        if not headers:
            return "-"
        return format_html_join(
            mark_safe("<br>"), "{}: {}", ((name, services.mask_secret(v)) for name, v in headers.items())
        )

    def _save(self, request, obj, form):
        probe = services.save_probe(probe=obj, actor=request.user, **self.values(form))
        if probe.runbook_id is None:
            self.message_user(request, f"{probe} has no runbook linked yet.", messages.WARNING)
        return probe

    def create_object(self, request, form, formsets):
        return self._save(request, form.instance, form)

    def update_object(self, request, obj, form, formsets):
        return self._save(request, obj, form)

    def delete_object(self, request, obj):
        services.delete_probe(probe=obj, actor=request.user)

    def has_operate_permission(self, request):
        return permissions.can_operate(request.user)

    def _each(self, request, queryset, fn, done: str):
        self.for_each(
            request,
            queryset,
            lambda probe: fn(probe=probe, actor=request.user),
            done="{n} probe(s) " + done + ".",
        )

    @admin.action(description="Pause selected probes", permissions=["operate"])
    def pause(self, request, queryset):
        self._each(request, queryset, services.pause_probe, "paused")

    @admin.action(description="Resume selected probes", permissions=["operate"])
    def resume(self, request, queryset):
        self._each(request, queryset, services.resume_probe, "resumed")

    @admin.action(description="Run selected probes now", permissions=["operate"])
    def run_now(self, request, queryset):
        self._each(request, queryset, services.run_now, "queued to run now")


class MaintenanceWindowForm(ServiceErrorsForm):
    validator = staticmethod(services.validate_window)

    class Meta:
        model = MaintenanceWindow
        fields = ["service", "probe", "reason", "starts_at", "ends_at", "recurrence_cron", "recurrence_timezone",
                  "duration_minutes"]  # fmt: skip


@admin.register(MaintenanceWindow)
class MaintenanceWindowAdmin(ServiceHistoryAdmin):
    form = MaintenanceWindowForm
    list_display = ["reason", "target", "starts_at", "ends_at", "recurrence_cron", "active_now", "created_by"]
    list_select_related = ["service", "probe", "created_by"]
    autocomplete_fields = ["service", "probe"]
    search_fields = ["reason", "service__name", "probe__name"]

    @admin.display(description="Covers")
    def target(self, obj):
        return obj.service or obj.probe

    @admin.display(description="Active now")
    def active_now(self, obj):
        active = services.window_active(obj, timezone.now())
        return badge("active", "purple") if active else badge("inactive", "grey")

    def create_object(self, request, form, formsets):
        return services.save_maintenance_window(window=form.instance, actor=request.user, **self.values(form))

    def update_object(self, request, obj, form, formsets):
        return services.save_maintenance_window(window=obj, actor=request.user, **self.values(form))

    def delete_object(self, request, obj):
        services.delete_maintenance_window(window=obj, actor=request.user)


@admin.register(ProbeAlert)
class ProbeAlertAdmin(ServiceModelAdmin):
    """Read-only: alerts open and resolve with their probe's state."""

    list_display = ["probe", "service", "status_col", "disposition", "grouped_under", "detected_at", "opened_at",
                    "resolved_at"]  # fmt: skip
    list_select_related = ["probe", "service", "grouped_under__probe"]
    list_filter = ["status", "disposition"]
    search_fields = ["probe__name", "service__name", "summary"]
    show_full_result_count = False

    @admin.display(description="Status", ordering="status")
    def status_col(self, obj):
        return badge(obj.get_status_display(), "red" if obj.status == ProbeAlert.Status.OPEN else "green")
