"""Admin for the sign-in records django-axes keeps (accounts/lockout.py): read-only, seen by
engineering managers and superusers. The only action is *Lift the lockout*, which deletes live
failure counts; the failure log and the sign-in log are never edited or deleted here."""

from __future__ import annotations

from axes.admin import AccessAttemptAdmin, AccessFailureLogAdmin, AccessLogAdmin
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin, messages

from accounts import permissions, services
from opsportal.admin_base import ServiceAdminMixin as ReadOnly  # no write hooks: read-only


@admin.register(AccessAttempt)
class SignInAttemptAdmin(ReadOnly, AccessAttemptAdmin):
    """Live failure counts: one row per username, address and browser within the cool-off."""

    actions = ["lift_lockout"]
    show_full_result_count = False

    def has_lift_lockout_permission(self, request):
        return permissions.is_manager(request.user)

    @admin.action(description="Lift the lockout (forget these failures)", permissions=["lift_lockout"])
    def lift_lockout(self, request, queryset):
        attempts = list(queryset)
        lifted, count = self.run_service(
            request, services.lift_lockouts, attempt_ids=[a.pk for a in attempts], actor=request.user
        )
        if lifted:
            self.log_deletions(request, attempts)
            messages.success(request, f"Cleared {count} failure count(s): those sign-ins may be tried again.")


@admin.register(AccessFailureLog)
class SignInFailureAdmin(ReadOnly, AccessFailureLogAdmin):
    show_full_result_count = False  # grows with every failure


@admin.register(AccessLog)
class SignInAdmin(ReadOnly, AccessLogAdmin):
    show_full_result_count = False  # grows with every sign-in
