"""Role groups and the model permissions each one holds (least privilege).

- Engineering managers: run incidents, own schedules and the catalog (staff).
- Responders: act on incidents and runbooks; read the catalog (staff).
- Support: no admin access at all; they use the /support/ pages (not staff).
- Release leads: sign off readiness reviews; read the catalog (staff).

Each app declares what its models grant to each role in ``<app>/permissions.py`` as
``ROLE_GRANTS = {roles.MANAGERS: {"app.codename", ...}, ...}``; ``role_permissions()``
merges them with the base grants below. ``sync_roles`` only adds what is listed (a permission an administrator added by hand stays), and runs from the data migration
that created the groups and again after every ``migrate`` (post_migrate), so a permission
added here reaches existing installs on their next deploy.
"""

from __future__ import annotations

MANAGERS = "Engineering managers"
RESPONDERS = "Responders"
SUPPORT = "Support"
RELEASE_LEADS = "Release leads"

ALL_ROLES = (MANAGERS, RESPONDERS, SUPPORT, RELEASE_LEADS)
STAFF_ROLES = frozenset({MANAGERS, RESPONDERS, RELEASE_LEADS})


def crud(app_label: str, *models: str) -> set[str]:
    return {f"{app_label}.{action}_{m}" for m in models for action in ("add", "change", "delete", "view")}


def view(app_label: str, *models: str) -> set[str]:
    return {f"{app_label}.view_{m}" for m in models}


# Every staff role keeps its own API tokens (accounts.permissions decides whose tokens
# anyone may create, see or revoke); support staff do not use the API.
OWN_API_TOKENS = {"accounts.view_apitoken", "accounts.add_apitoken"}

BASE_PERMISSIONS: dict[str, set[str]] = {
    MANAGERS: (
        view("accounts", "user")
        | OWN_API_TOKENS
        | view("axes", "accessattempt", "accessfailurelog", "accesslog")  # sign-in records
        | view("django_celery_beat", "periodictask", "intervalschedule", "crontabschedule")
        | {"django_celery_beat.change_periodictask"}
    ),
    RESPONDERS: set(OWN_API_TOKENS),
    SUPPORT: set(),
    RELEASE_LEADS: set(OWN_API_TOKENS),
}


def role_permissions() -> dict[str, set[str]]:
    """Base grants plus every installed app's ``permissions.ROLE_GRANTS``."""
    from opsportal.discovery import app_modules

    merged = {role: set(perms) for role, perms in BASE_PERMISSIONS.items()}
    for config, module in app_modules("permissions"):
        for role, perms in getattr(module, "ROLE_GRANTS", {}).items():
            if role not in merged:
                raise ValueError(f"{config.name}.permissions grants to unknown role {role!r}")
            merged[role] |= set(perms)
    return merged


def revoke(apps, grants: dict[str, set[str]]) -> None:
    """Take permissions away from role groups (a data migration's job: ``sync_roles`` only
    adds, so a grant removed from an app's ROLE_GRANTS stays on existing installs until a
    migration revokes it). ``grants``: role -> {"app.codename", ...}."""
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, perms in grants.items():
        group = Group.objects.filter(name=role).first()
        if group is None:
            continue
        for dotted in perms:
            app_label, codename = dotted.split(".", 1)
            group.permissions.remove(
                *Permission.objects.filter(content_type__app_label=app_label, codename=codename)
            )


def sync_roles(apps=None) -> None:
    """Create the role groups and grant their permissions (idempotent, additive).

    ``apps`` is the historical registry in a migration, the live one otherwise. Permissions
    whose model does not exist yet are skipped; the post_migrate run grants them later.
    """
    if apps is None:
        from django.apps import apps as live_apps

        apps = live_apps
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    grants = role_permissions()
    for role in ALL_ROLES:
        group, _ = Group.objects.get_or_create(name=role)
        wanted = grants[role]
        if not wanted:
            continue
        by_app: dict[str, set[str]] = {}
        for dotted in wanted:
            app_label, codename = dotted.split(".", 1)
            by_app.setdefault(app_label, set()).add(codename)
        perms = []
        for app_label, codenames in by_app.items():
            perms.extend(Permission.objects.filter(content_type__app_label=app_label, codename__in=codenames))
        group.permissions.add(*perms)
