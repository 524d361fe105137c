from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from accounts.models import User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    fieldsets = (*DjangoUserAdmin.fieldsets, ("Preferences", {"fields": ("time_zone",)}))
    list_display = ["username", "get_full_name", "email", "roles", "is_staff", "is_active"]
    list_filter = ["groups", "is_staff", "is_active"]
    search_fields = ["username", "first_name", "last_name", "email"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups")

    @admin.display(description="Roles")
    def roles(self, obj):
        return ", ".join(g.name for g in obj.groups.all()) or "-"
