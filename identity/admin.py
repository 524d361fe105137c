"""Identity in the admin: the sign-in audit (engineering managers; CSV/JSON export of the
filtered list), departures (what still named a leaver, who was told), directory groups and
external identities (read-only), and SCIM tokens (superusers: create - the token is shown
once - and revoke)."""

from __future__ import annotations

import csv
import json

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, StreamingHttpResponse
from django.urls import path
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from identity import permissions, services
from identity.models import AuditEvent, Departure, DirectoryGroup, ExternalIdentity, ScimToken
from opsportal.admin_base import ServiceModelAdmin

EXPORT_LIMIT = 100_000  # rows per export: narrow the filters for more
EXPORT_FIELDS = (
    "at",
    "kind",
    "source",
    "username",
    "user_id",
    "actor",
    "ip_address",
    "user_agent",
    "summary",
    "changes",
)


class _Echo:
    def write(self, value):
        return value


def _row(event: AuditEvent) -> dict:
    return {
        "at": event.at.isoformat(),
        "kind": event.kind,
        "source": event.source,
        "username": event.username,
        "user_id": event.user_id,
        "actor": event.actor.get_username() if event.actor_id else "",
        "ip_address": event.ip_address or "",
        "user_agent": event.user_agent,
        "summary": event.summary,
        "changes": event.changes,
    }


@admin.register(AuditEvent)
class AuditEventAdmin(ServiceModelAdmin):
    list_display = ["at", "kind", "source", "username", "ip_address", "summary"]
    list_filter = ["kind", "source", ("at", admin.DateFieldListFilter)]
    search_fields = ["username", "summary", "ip_address"]
    list_select_related = ["actor"]
    date_hierarchy = "at"
    show_full_result_count = False  # grows with every sign-in
    readonly_fields = [f.name for f in AuditEvent._meta.fields]
    change_list_template = "admin/identity/auditevent/change_list.html"

    def get_urls(self):
        return [
            path(
                "export.csv",
                self.admin_site.admin_view(self.export_csv),
                name="identity_auditevent_export_csv",
            ),
            path(
                "export.json",
                self.admin_site.admin_view(self.export_json),
                name="identity_auditevent_export_json",
            ),
            *super().get_urls(),
        ]

    def _exported(self, request):
        if not (self.has_view_permission(request) and permissions.can_export_audit(request.user)):
            raise PermissionDenied
        changelist = self.get_changelist_instance(request)
        qs = changelist.get_queryset(request).select_related("actor").order_by("-at", "-pk")
        return qs[:EXPORT_LIMIT].iterator(chunk_size=2000)

    def export_csv(self, request):
        rows = self._exported(request)
        writer = csv.writer(_Echo())

        def lines():
            yield writer.writerow(EXPORT_FIELDS)
            for event in rows:
                data = _row(event)
                data["changes"] = json.dumps(data["changes"], sort_keys=True)
                # a cell starting with = + - @ is a formula to spreadsheets: quote it
                yield writer.writerow(
                    [
                        "'" + v if isinstance(v, str) and v[:1] in "=+-@" else v
                        for v in (data[f] for f in EXPORT_FIELDS)
                    ]
                )

        response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = (
            f'attachment; filename="sign-in-audit-{timezone.now():%Y%m%d-%H%M}.csv"'
        )
        return response

    def export_json(self, request):
        rows = [_row(e) for e in self._exported(request)]
        response = HttpResponse(json.dumps({"events": rows}, indent=1), content_type="application/json")
        response["Content-Disposition"] = (
            f'attachment; filename="sign-in-audit-{timezone.now():%Y%m%d-%H%M}.json"'
        )
        return response


@admin.register(Departure)
class DepartureAdmin(ServiceModelAdmin):
    list_display = ["user", "at", "source", "reference_count", "notified_list", "reverted_at"]
    list_filter = ["source", ("reverted_at", admin.EmptyFieldListFilter)]
    list_select_related = ["user"]
    search_fields = ["user__username", "user__email"]
    fields = ["user", "at", "source", "actor", "reverted_at", "notified_list", "what_named_them"]
    readonly_fields = fields

    @admin.display(description="Things naming them")
    def reference_count(self, obj):
        return len(obj.references or [])

    @admin.display(description="Managers told")
    def notified_list(self, obj):
        return ", ".join(obj.notified or []) or "-"

    @admin.display(description="What still named them when they left")
    def what_named_them(self, obj):
        if not obj.references:
            return "Nothing."
        items = []
        for ref in obj.references:
            gaps = "; ".join(f"{a[:16]} → {b[:16]}" for a, b in ref.get("gaps") or [])
            items.append(
                (ref.get("team") or "no team", ref["kind"], ref.get("url") or "#", ref["label"], gaps)
            )
        return format_html(
            "<ul>{}</ul>",
            format_html_join("", '<li>{} · {}: <a href="{}">{}</a> <span class="help">{}</span></li>', items),
        )


@admin.register(DirectoryGroup)
class DirectoryGroupAdmin(ServiceModelAdmin):
    list_display = ["display_name", "external_id", "member_count", "updated_at"]
    search_fields = ["display_name"]
    fields = ["display_name", "external_id", "members", "updated_at"]
    readonly_fields = fields

    def get_queryset(self, request):
        from django.db.models import Count

        return super().get_queryset(request).annotate(n=Count("members"))

    @admin.display(description="Members", ordering="n")
    def member_count(self, obj):
        return obj.n


@admin.register(ExternalIdentity)
class ExternalIdentityAdmin(ServiceModelAdmin):
    list_display = ["user", "subject", "issuer", "last_sign_in_at"]
    list_select_related = ["user"]
    search_fields = ["user__username", "user__email", "subject"]
    readonly_fields = ["user", "issuer", "subject", "created_at", "last_sign_in_at"]


@admin.register(ScimToken)
class ScimTokenAdmin(ServiceModelAdmin):
    list_display = ["name", "prefix", "created_at", "created_by", "last_used_at", "revoked_at"]
    fields = ["name"]
    actions = ["revoke"]

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    def has_add_permission(self, request, *args, **kwargs):
        return request.user.is_active and request.user.is_superuser

    def has_revoke_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def get_readonly_fields(self, request, obj=None):
        return ["name", "prefix", "created_at", "created_by", "last_used_at", "revoked_at"] if obj else []

    def get_fields(self, request, obj=None):
        return self.get_readonly_fields(request, obj) if obj else ["name"]

    def create_object(self, request, form, formsets):
        token, key = services.create_scim_token(name=form.cleaned_data["name"], actor=request.user)
        messages.warning(
            request,
            f"SCIM token for {token.name}: {key} - copy it now into the directory's provisioning settings; "
            "it is not shown again.",
        )
        return token

    @admin.action(description="Revoke the selected SCIM tokens", permissions=["revoke"])
    def revoke(self, request, queryset):
        for token in queryset:
            ok, _ = self.run_service(request, services.revoke_scim_token, token=token, actor=request.user)
            if ok:
                self.message_user(request, f"Revoked {token}.")
