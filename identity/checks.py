"""System checks for the single sign-on settings (configuration errors at start-up, not at
the first sign-in)."""

from django.conf import settings
from django.core import checks

from accounts import roles


@checks.register(checks.Tags.security)
def check_sso(app_configs, **kwargs):
    from identity.services import parse_map

    errors = []
    try:
        mapped = parse_map(settings.SSO_ROLE_MAP, setting="SSO_ROLE_MAP")
    except ValueError as exc:
        errors.append(checks.Error(str(exc), id="identity.E001"))
        mapped = {}
    unknown = sorted({r for names in mapped.values() for r in names} - set(roles.ALL_ROLES))
    if unknown:
        errors.append(
            checks.Error(
                f"SSO_ROLE_MAP names unknown role(s): {', '.join(unknown)}.",
                hint=f"Roles: {', '.join(roles.ALL_ROLES)}.",
                id="identity.E002",
            )
        )
    try:
        parse_map(settings.SSO_TEAM_MAP, setting="SSO_TEAM_MAP")
    except ValueError as exc:
        errors.append(checks.Error(str(exc), id="identity.E003"))
    if bool(settings.OIDC_DISCOVERY_URL) != bool(settings.OIDC_RP_CLIENT_ID):
        errors.append(
            checks.Error("Set both OIDC_DISCOVERY_URL and OIDC_CLIENT_ID (or neither).", id="identity.E004")
        )
    if settings.SSO_ONLY and not settings.OIDC_DISCOVERY_URL:
        errors.append(
            checks.Error(
                "SSO_ONLY is on but single sign-on is not configured: only superusers could sign in.",
                id="identity.E005",
            )
        )
    if settings.SSO_ONLY and not settings.SSO_BREAK_GLASS_USERS:
        errors.append(
            checks.Warning(
                "SSO_ONLY without SSO_BREAK_GLASS_USERS: every active superuser keeps password sign-in.",
                id="identity.W001",
            )
        )
    return errors
