"""Who sees what in identity. Engineering managers read the sign-in audit (and export it) and
the departure records; SCIM tokens are a superuser's business (they provision accounts)."""

from accounts import roles
from accounts.permissions import is_manager

ROLE_GRANTS = {
    roles.MANAGERS: {
        "identity.view_auditevent",
        "identity.view_departure",
        "identity.view_externalidentity",
        "identity.view_directorygroup",
    },
}


def can_export_audit(user) -> bool:
    return is_manager(user) and user.has_perm("identity.view_auditevent")
