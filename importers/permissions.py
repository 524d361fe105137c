"""Who may import: engineering managers (they own schedules, policies and the catalog, which
an import writes) and superusers. Creating missing people as accounts is the accounts
service's decision (superusers only)."""

from accounts.permissions import is_manager
from accounts.roles import MANAGERS

ROLE_GRANTS = {
    MANAGERS: {"importers.view_importrun", "importers.add_importrun", "importers.change_importrun"},
}


def can_import(user) -> bool:
    return is_manager(user)
