"""Admin: integrations (key shown once, snippets, rotate/revoke, "test with this sample"),
alert groups (filters, routing explanation, acknowledge/resolve/take over/open incident),
alerts (with their raw payloads) and raw payloads. Every write goes through alerts.services."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from alerts import permissions, services, sources
from alerts.models import Alert, AlertGroup, Integration, RawPayload
from alerts.services import integrations
from opsportal.admin_base import ServiceModelAdmin
from opsportal.badges import badge

STATUS_TONES = {"firing": "red", "acknowledged": "orange", "resolved": "green"}
KEY_PLACEHOLDER = "<KEY>"


def snippet(kind: str, url: str, address: str = "") -> str:
    """A copy-paste set-up for the sender (docs/alerts.md has the long version)."""
    if kind == Integration.Kind.ALERTMANAGER:
        return (
            "# alertmanager.yml\nreceivers:\n  - name: ops-portal\n    webhook_configs:\n"
            f"      - url: {url}\n        send_resolved: true\n\n"
            "# try it:\namtool alert add TestAlert severity=critical --annotation=summary='Test alert' "
            "--alertmanager.url=http://localhost:9093"
        )
    if kind == Integration.Kind.GRAFANA:
        return (
            "Grafana > Alerting > Contact points > New contact point\n  Integration: Webhook\n"
            f"  URL: {url}\n  HTTP method: POST"
        )
    if kind == Integration.Kind.PAGERDUTY:
        return (
            f"curl -sS -X POST {url} -H 'Content-Type: application/json' -d '"
            '{"event_action": "trigger", "dedup_key": "disk-full-db1", "payload": '
            '{"summary": "Disk full on db1", "source": "db1", "severity": "critical"}}' + "'"
        )
    if kind == Integration.Kind.GENERIC:
        return (
            f"curl -sS -X POST {url} -H 'Content-Type: application/json' -d '"
            '{"dedup_key": "queue-lag", "status": "firing", "severity": "warning", '
            '"summary": "Queue lag over 5 min", "labels": {"queue": "emails"}}' + "'"
        )
    return (
        f"Forward alert mail to {address}, e.g. Postfix: /etc/postfix/virtual: alerts@example.com {address}"
    )


class IntegrationForm(forms.ModelForm):
    class Meta:
        model = Integration
        fields = ["service", "name", "kind", "severity_map", "incident_severity", "rules", "group_by",
                  "field_mapping", "rate_limit_per_minute", "storm_threshold"]  # fmt: skip


@admin.register(Integration)
class IntegrationAdmin(ServiceModelAdmin):
    form = IntegrationForm
    list_display = ["name", "service", "kind", "key_col", "state_col", "created_at"]
    list_select_related = ["service"]
    list_filter = ["kind", "service__owner_team"]
    search_fields = ["name", "service__name"]
    actions = ["rotate", "revoke"]
    info_fields = ["ingest_url", "setup_snippet", "key_hint", "created_by", "created_at", "rotated_at", "revoked_at",
                   "sample_link"]  # fmt: skip

    def get_fieldsets(self, request, obj=None):
        config = [(None, {"fields": IntegrationForm.Meta.fields})]
        if obj is None:
            return config
        return [*config, ("Key and set-up", {"fields": self.info_fields})]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.info_fields

    @admin.display(description="Key")
    def key_col(self, obj):
        return f"{obj.key_hint}…"

    @admin.display(description="State", ordering="revoked_at")
    def state_col(self, obj):
        return badge("revoked", "grey") if obj.revoked_at else badge("active", "green")

    @admin.display(description="Ingestion URL")
    def ingest_url(self, obj):
        if obj.kind == Integration.Kind.EMAIL:
            return integrations.email_address(f"{obj.key_hint}…")
        return format_html(
            "{}<br><small>The key is shown once, when the integration is created or its key rotated; "
            "only its first characters are kept.</small>",
            integrations.ingest_url(f"{obj.key_hint}…", obj.kind),
        )

    @admin.display(description="Set-up")
    def setup_snippet(self, obj):
        url = integrations.ingest_url(KEY_PLACEHOLDER, obj.kind)
        return format_html(
            "<pre>{}</pre>", snippet(obj.kind, url, integrations.email_address(KEY_PLACEHOLDER))
        )

    @admin.display(description="Try a payload")
    def sample_link(self, obj):
        if obj.kind == Integration.Kind.EMAIL:
            return "-"
        url = reverse("admin:alerts_integration_sample", args=[obj.pk])
        return format_html('<a class="button" href="{}">Test with this sample</a>', url)

    def _shown_once(self, request, integration: Integration, key: str, verb: str) -> None:
        if integration.kind == Integration.Kind.EMAIL:
            where = integrations.email_address(key)
        else:
            where = integrations.ingest_url(key, integration.kind)
        self.message_user(
            request,
            format_html(
                '{} {}. Copy it now, it is shown only once: <code class="alerts-secret-url">{}</code><pre>{}</pre>',
                integration,
                verb,
                where,
                snippet(integration.kind, where, where),
            ),
            messages.SUCCESS,
        )

    def create_object(self, request, form, formsets):
        values = self.values(form)
        service = values.pop("service")
        integration, key = integrations.create_integration(actor=request.user, service=service, **values)
        self._shown_once(request, integration, key, "created")
        return integration

    def update_object(self, request, obj, form, formsets):
        return integrations.update_integration(integration=obj, actor=request.user, **self.changes(form))

    def delete_object(self, request, obj):
        integrations.delete_integration(integration=obj, actor=request.user)

    def has_manage_permission(self, request):
        return permissions.can_manage_integrations(request.user)

    @admin.action(description="Rotate the key of selected integrations", permissions=["manage"])
    def rotate(self, request, queryset):
        for integration in queryset:
            ok, key = self.run_service(
                request, integrations.rotate_key, integration=integration, actor=request.user
            )
            if ok:
                self._shown_once(request, integration, key, "has a new key (the old one no longer works)")

    @admin.action(description="Revoke selected integrations", permissions=["manage"])
    def revoke(self, request, queryset):
        self.for_each(
            request, queryset, lambda i: integrations.revoke_integration(integration=i, actor=request.user),
            done="{n} integration(s) revoked: their URLs answer 404 from now on.",
        )  # fmt: skip

    def get_urls(self):
        view = self.admin_site.admin_view(self.sample_view)
        return [path("<int:pk>/sample/", view, name="alerts_integration_sample"), *super().get_urls()]

    def sample_view(self, request, pk: int):
        """Parse and route a sample payload, writing nothing."""
        integration = Integration.objects.select_related("service").filter(pk=pk).first()
        if integration is None or not self.has_view_permission(request, integration):
            raise PermissionDenied
        sample, results, error = "", [], ""
        if request.method == "POST":
            sample = request.POST.get("sample", "")[:200_000]
            try:
                parsed, decisions = integrations.try_sample(integration=integration, body=sample.encode())
                results = [
                    {"alert": json.dumps(vars(p), default=str, indent=2), "decision": d}
                    for p, d in zip(parsed, decisions, strict=True)
                ]
            except sources.ParseError as exc:
                error = "; ".join(exc.errors)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Test a sample for {integration}",
            "opts": self.model._meta,
            "original": integration,
            "sample": sample,
            "results": results,
            "error": error,
        }
        return TemplateResponse(request, "admin/alerts/integration/sample.html", context)


class AlertInline(admin.TabularInline):
    model = Alert
    fields = ["summary", "status", "severity", "dedup_key", "occurrences", "started_at", "last_seen_at"]
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).order_by("-last_seen_at")


class SourceFilter(admin.SimpleListFilter):
    title = "source"
    parameter_name = "source"

    def lookups(self, request, model_admin):
        return Integration.Kind.choices

    def queryset(self, request, queryset):
        return queryset.filter(integration__kind=self.value()) if self.value() else queryset


@admin.register(AlertGroup)
class AlertGroupAdmin(ServiceModelAdmin):
    """Groups open, page and resolve with their alerts; people act through the actions."""

    list_display = ["title", "service", "status_col", "disposition", "alert_count", "source", "routing",
                    "created_at"]  # fmt: skip
    list_select_related = ["service", "integration"]
    list_filter = ["status", SourceFilter, "disposition", "service"]
    search_fields = ["title", "group_key", "labels"]
    show_full_result_count = False
    actions = ["acknowledge", "resolve", "take_over", "open_incident"]
    inlines = [AlertInline]
    fields = ["title", "service", "integration", "status_col", "severity", "urgency", "disposition", "decision",
              "labels_col", "runbook_col", "page", "incident", "storm", "alert_count", "started_at",
              "last_alert_at", "created_at", "acknowledged_by", "acknowledged_at", "taken_over_by", "resolved_at",
              "resolve_reason"]  # fmt: skip
    readonly_fields = fields

    @admin.display(description="Status", ordering="status")
    def status_col(self, obj):
        return badge(obj.get_status_display(), STATUS_TONES.get(obj.status, "grey"))

    @admin.display(description="Routing decision")
    def routing(self, obj):
        return obj.decision

    @admin.display(description="Source", ordering="integration__kind")
    def source(self, obj):
        return obj.integration.get_kind_display()

    @admin.display(description="Labels")
    def labels_col(self, obj):
        return format_html_join(", ", "{}={}", sorted(obj.labels.items())) or "-"

    @admin.display(description="Runbook")
    def runbook_col(self, obj):
        return (
            format_html('<a href="{}">{}</a>', obj.runbook_url, obj.runbook_url) if obj.runbook_url else "-"
        )

    def has_respond_permission(self, request):
        return permissions.can_respond(request.user)

    def _each(self, request, queryset, fn, done):
        self.for_each(
            request, queryset, lambda g: fn(group=g, actor=request.user), done="{n} group(s) " + done
        )

    @admin.action(description="Acknowledge selected groups", permissions=["respond"])
    def acknowledge(self, request, queryset):
        self._each(request, queryset, services.acknowledge_group, "acknowledged.")

    @admin.action(description="Resolve selected groups", permissions=["respond"])
    def resolve(self, request, queryset):
        self._each(request, queryset, services.resolve_group, "resolved.")

    @admin.action(
        description="Take over (the source's 'resolved' no longer resolves them)", permissions=["respond"]
    )
    def take_over(self, request, queryset):
        self._each(request, queryset, services.take_over, "taken over.")

    @admin.action(description="Open incident from selected groups", permissions=["respond"])
    def open_incident(self, request, queryset):
        self._each(request, queryset, services.open_incident, "now have an incident.")


@admin.register(Alert)
class AlertAdmin(ServiceModelAdmin):
    list_display = [
        "summary",
        "integration",
        "status",
        "severity",
        "occurrences",
        "started_at",
        "last_seen_at",
    ]
    list_select_related = ["integration"]
    list_filter = ["status", "severity", "source"]
    search_fields = ["summary", "dedup_key", "labels"]
    show_full_result_count = False
    fields = ["summary", "group", "integration", "source", "dedup_key", "status", "severity", "decision",
              "details", "labels", "annotations", "links", "runbook_url", "started_at", "first_seen_at",
              "last_seen_at", "occurrences", "resolved_at", "raw_payloads"]  # fmt: skip
    readonly_fields = fields

    @admin.display(description="Raw payloads (latest 5)")
    def raw_payloads(self, obj):
        rows = obj.payloads.order_by("-received_at")[:5]
        return (
            format_html_join(
                "", "<p>{} ({})</p><pre>{}</pre>", ((p.received_at, p.outcome, p.body[:20_000]) for p in rows)
            )
            or "-"
        )


@admin.register(RawPayload)
class RawPayloadAdmin(ServiceModelAdmin):
    list_display = ["integration", "received_at", "outcome", "error"]
    list_select_related = ["integration"]
    list_filter = ["outcome"]
    show_full_result_count = False
    fields = ["integration", "received_at", "content_type", "outcome", "error", "body"]
    readonly_fields = fields
