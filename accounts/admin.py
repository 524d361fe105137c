"""People and roles in the admin. Accounts are written through ``accounts.services``; the role
groups are defined in code (``accounts.roles``) and shown read-only."""

import contextvars

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm
from django.contrib.auth.models import Group

from accounts import lockout_admin as lockout_admin  # registers the sign-in records admin
from accounts import permissions, services
from accounts import token_admin as token_admin  # registers the API token admin
from accounts.models import User
from identity import services as identity_services
from opsportal.admin_base import ServiceAdminMixin

_password_actor: contextvars.ContextVar = contextvars.ContextVar("password_actor")


class PasswordForm(AdminPasswordChangeForm):
    """Django's admin password form, saving through the service."""

    def save(self, commit=True):
        usable = self.cleaned_data.get("set_usable_password", True)
        services.set_password(
            user=self.user,
            actor=_password_actor.get(None),
            password=self.cleaned_data["password1"] if usable else None,
        )
        return self.user


@admin.register(User)
class UserAdmin(ServiceAdminMixin, DjangoUserAdmin):
    fieldsets = (*DjangoUserAdmin.fieldsets, ("Preferences", {"fields": ("time_zone",)}))
    list_display = ["username", "get_full_name", "email", "roles", "is_staff", "is_active"]
    list_filter = ["groups", "is_staff", "is_active"]
    search_fields = ["username", "first_name", "last_name", "email"]
    change_password_form = PasswordForm
    actions = ["revoke_api_tokens"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups")

    @admin.display(description="Roles")
    def roles(self, obj):
        return ", ".join(g.name for g in obj.groups.all()) or "-"

    def create_object(self, request, form, formsets):
        data = form.cleaned_data
        usable = data.get("usable_password", "true") not in (False, "false")
        return services.create_user(
            actor=request.user, username=data["username"], password=data.get("password1") if usable else None
        )

    def update_object(self, request, obj, form, formsets):
        fields = self.values(form)
        # Deactivating ends sessions and tokens and records the departure (identity);
        # reactivating closes it. Both before/after the other edits, in the same transaction.
        active = fields.pop("is_active", None)
        was_active = type(obj).objects.filter(pk=obj.pk).values_list("is_active", flat=True).first()
        if active is False and was_active:
            identity_services.deactivate_user(user=obj, source="admin", actor=request.user, request=request)
        elif active is True and was_active is False:
            identity_services.reactivate_user(user=obj, source="admin", actor=request.user, request=request)
        return services.update_user(
            user=obj,
            actor=request.user,
            groups=fields.pop("groups", None),
            user_permissions=fields.pop("user_permissions", None),
            **{k: v for k, v in fields.items() if k in services.USER_FIELDS},
        )

    def delete_object(self, request, obj):
        services.delete_user(user=obj, actor=request.user)

    def has_revoke_api_tokens_permission(self, request):
        return permissions.is_manager(request.user)

    @admin.action(
        description="Revoke all API tokens of the selected people", permissions=["revoke_api_tokens"]
    )
    def revoke_api_tokens(self, request, queryset):
        for user in queryset:
            revoked, count = self.run_service(
                request,
                services.revoke_user_tokens,
                user=user,
                actor=request.user,
                failure=f"{user.get_username()}: {{error}}",
            )
            if revoked:
                self.message_user(request, f"Revoked {count} API token(s) of {user.get_username()}.")

    def user_change_password(self, request, id, form_url=""):
        token = _password_actor.set(request.user)
        try:
            return super().user_change_password(request, id, form_url)
        finally:
            _password_actor.reset(token)


admin.site.unregister(Group)


@admin.register(Group)
class RoleAdmin(ServiceAdminMixin, DjangoGroupAdmin):
    """Roles are defined in code (``accounts.roles`` and each app's ``permissions.py``) and
    kept in sync on every migrate: shown here read-only, with what each one grants."""
