from pathlib import Path

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.utils.module_loading import autodiscover_modules
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from opsportal.api.permissions import HasARole
from opsportal.api.router import router
from opsportal.api.views import not_found as api_not_found
from opsportal.discovery import app_modules
from opsportal.health import healthz, healthz_workers

# Every app registers its viewsets on the one router in its own api.py.
autodiscover_modules("api")

_signed_in = [HasARole]

# Heartbeat pings first: the busiest route (fleets of cron jobs), so it resolves in one match
# instead of after every app's patterns.
_FIRST = ("probes",)

urlpatterns = [
    *(path("", include(f"{name}.urls")) for name in _FIRST),
    path("healthz", healthz, name="healthz"),
    path("healthz/workers", healthz_workers, name="healthz-workers"),
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    # SCIM 2.0 for the company directory (identity/scim_urls.py; namespace "scim")
    path("scim/v2/", include("identity.scim_urls")),
    path("api/v1/schema/", SpectacularAPIView.as_view(permission_classes=_signed_in), name="api-schema"),
    path(
        "api/v1/docs/",
        SpectacularSwaggerView.as_view(url_name="api-schema", permission_classes=_signed_in),
        name="api-docs",
    ),
    path(
        "api/v1/redoc/",
        SpectacularRedocView.as_view(url_name="api-schema", permission_classes=_signed_in),
        name="api-redoc",
    ),
    path("api/v1/", include(router.urls)),
    path("", include("accounts.home_urls")),
]


def _app_urls():
    """Each of our apps' own pages: ``<app>/urls.py`` with full paths (``support/escalate/``...)
    and an ``app_name`` namespace, mounted at the root in INSTALLED_APPS order. Third-party
    apps' URL modules are not mounted (DRF's would add a second sign-in page at /login/, knox's
    login/logout views would mint tokens)."""
    root = Path(settings.BASE_DIR).resolve()
    for config, _module in app_modules("urls"):
        if config.name in {"opsportal", "accounts", *_FIRST} or "." in config.name:
            continue
        if Path(config.path).resolve().parent != root:  # .venv lives under BASE_DIR too
            continue
        yield path("", include(f"{config.name}.urls"))


urlpatterns += list(_app_urls())
# Last of all: any other path under /api/ ending in a slash is a JSON 404 (Django's is an HTML
# page). Paths without the slash still get APPEND_SLASH's redirect first, as before.
urlpatterns.append(
    re_path(r"^api/(?:[\s\S]*/)?$", api_not_found, name="api-not-found")
)  # [\s\S]: newlines too
