"""Read-only: incident channels mirror the chat workspace and change only through the outbox
steps (chat/outbox.py)."""

from django.contrib import admin
from django.utils.html import format_html

from chat.models import IncidentChannel
from opsportal.admin_base import ServiceModelAdmin
from opsportal.badges import badge

TONES = {"pending": "orange", "active": "green", "archived": "grey"}


@admin.register(IncidentChannel)
class IncidentChannelAdmin(ServiceModelAdmin):
    list_display = [
        "channel_col",
        "incident",
        "provider",
        "status_col",
        "created_at",
        "ready_at",
        "archived_at",
    ]
    list_select_related = ["incident"]
    list_filter = ["status", "provider"]
    search_fields = ["name", "channel_id", "incident__title"]
    raw_id_fields = ["incident"]
    show_full_result_count = False
    readonly_fields = ["incident", "provider", "status", "name", "channel_id", "url", "members", "topic",
                       "card_ts", "card_pinned", "posted_updates", "created_at", "ready_at", "archived_at"]  # fmt: skip
    exclude = ["card_digest"]

    @admin.display(description="Channel", ordering="name")
    def channel_col(self, obj):
        if obj.url:
            return format_html('<a href="{}" rel="noopener">#{}</a>', obj.url, obj.name)
        return f"#{obj.name}"

    @admin.display(description="Status", ordering="status")
    def status_col(self, obj):
        label = "Pending (workspace not reached yet)" if obj.status == "pending" else obj.get_status_display()
        return badge(label, TONES.get(obj.status, "grey"))
