from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from accounts import lockout_admin as lockout_admin  # registers the sign-in records admin
from accounts import permissions, services
from accounts import token_admin as token_admin  # registers the API token admin
from accounts.models import User
from opsportal.errors import ServiceError


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    fieldsets = (*DjangoUserAdmin.fieldsets, ("Preferences", {"fields": ("time_zone",)}))
    list_display = ["username", "get_full_name", "email", "roles", "is_staff", "is_active"]
    list_filter = ["groups", "is_staff", "is_active"]
    search_fields = ["username", "first_name", "last_name", "email"]
    actions = ["revoke_api_tokens"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups")

    @admin.display(description="Roles")
    def roles(self, obj):
        return ", ".join(g.name for g in obj.groups.all()) or "-"

    def has_revoke_api_tokens_permission(self, request):
        return permissions.is_manager(request.user)

    @admin.action(
        description="Revoke all API tokens of the selected people", permissions=["revoke_api_tokens"]
    )
    def revoke_api_tokens(self, request, queryset):
        for user in queryset:
            try:
                count = services.revoke_user_tokens(user=user, actor=request.user)
            except ServiceError as exc:
                messages.error(request, f"{user.get_username()}: {exc.message}")
            else:
                messages.success(request, f"Revoked {count} API token(s) of {user.get_username()}.")
