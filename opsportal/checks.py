"""Configuration problems surface as system checks (``manage.py check [--deploy]``)."""

from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register


@register()
def check_site_url(app_configs, **kwargs):
    parts = urlsplit(settings.SITE_URL)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        return [
            Error(
                f"SITE_URL={settings.SITE_URL!r} is not an absolute http(s) URL.",
                hint="Set SITE_URL to the address people use to reach the portal, e.g. https://ops.example.com",
                id="opsportal.E001",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def check_production_settings(app_configs, **kwargs):
    problems = []
    if urlsplit(settings.SITE_URL).scheme != "https":
        problems.append(
            Warning(
                "SITE_URL does not use https: links in pages and notifications will be sent in clear.",
                id="opsportal.W001",
            )
        )
    if settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
        problems.append(
            Warning(
                "The database is SQLite; production runs on PostgreSQL (set DATABASE_URL).",
                id="opsportal.W002",
            )
        )
    return problems


@register()
def check_worker_heartbeat(app_configs, **kwargs):
    interval, stale = settings.WORKER_HEARTBEAT_SECONDS, settings.WORKER_HEARTBEAT_STALE_SECONDS
    if stale < 2 * interval:
        return [
            Error(
                f"WORKER_HEARTBEAT_STALE_SECONDS={stale} is less than twice WORKER_HEARTBEAT_SECONDS={interval}: "
                "one late heartbeat would report a live worker dead.",
                hint="Leave WORKER_HEARTBEAT_STALE_SECONDS unset (3 x the interval + 5 s) or raise it.",
                id="opsportal.E002",
            )
        ]
    return []
