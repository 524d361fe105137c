"""The portal's admin site: the main UI for engineering managers, responders and release leads."""

from functools import wraps

from django.contrib import admin
from django.core.exceptions import PermissionDenied


class OpsAdminSite(admin.AdminSite):
    site_header = "Ops Portal"
    site_title = "Ops Portal"
    index_title = "Operations"
    # Django's login form plus the single sign-on button (identity.context_processors.sso)
    login_template = "admin/sso_login.html"

    def admin_view(self, view, cacheable=False):
        inner = super().admin_view(view, cacheable)

        @wraps(view)
        def wrapper(request, *args, **kwargs):
            # Signed-in people without admin access (support staff) get a clear 403 that
            # points them to their own pages, instead of a login form that cannot help them.
            if request.user.is_authenticated and not request.user.is_staff:
                raise PermissionDenied("Your account does not use the admin.")
            return inner(request, *args, **kwargs)

        return wrapper
