"""Print or write the "Roles and permissions" documentation from opsportal/role_matrix.py.

``--write`` updates the admin summary between the role-matrix markers of
docs/operations/security.md (``role_matrix.SUMMARY_PATH``) and the whole of
docs/roles-and-permissions.md (``role_matrix.DOCS_PATH``).
"""

import os
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from opsportal import role_matrix


def summary_block() -> str:
    """The block between the markers of SUMMARY_PATH, linking the full reference relatively."""
    link = os.path.relpath(role_matrix.DOCS_PATH, os.path.dirname(role_matrix.SUMMARY_PATH))
    return "\n".join(
        [
            role_matrix.README_BEGIN,
            role_matrix.admin_summary(),
            "",
            f"Every API operation, admin action and page, per role: [Roles and permissions]({link}).",
            role_matrix.README_END,
        ]
    )


def write(base: Path) -> list[str]:
    """Update the summary block and the full reference page; return the files changed."""
    changed = []
    summary = base / role_matrix.SUMMARY_PATH
    text = summary.read_text(encoding="utf-8")
    start, end = text.find(role_matrix.README_BEGIN), text.find(role_matrix.README_END)
    if start < 0 or end < 0:
        raise CommandError(
            f"{role_matrix.SUMMARY_PATH} has no {role_matrix.README_BEGIN} ... {role_matrix.README_END} block"
        )
    updated = text[:start] + summary_block() + text[end + len(role_matrix.README_END) :]
    if updated != text:
        summary.write_text(updated, encoding="utf-8")
        changed.append(role_matrix.SUMMARY_PATH)
    docs = base / role_matrix.DOCS_PATH
    docs.parent.mkdir(exist_ok=True)
    reference = role_matrix.full_reference()
    if not docs.exists() or docs.read_text(encoding="utf-8") != reference:
        docs.write_text(reference, encoding="utf-8")
        changed.append(role_matrix.DOCS_PATH)
    return changed


class Command(BaseCommand):
    help = f"Print the role matrix as Markdown, or --write it into {role_matrix.SUMMARY_PATH} and {role_matrix.DOCS_PATH}."

    def add_arguments(self, parser):
        parser.add_argument("--write", action="store_true", help="update the docs pages")

    def handle(self, *args, **options):
        if options["write"]:
            changed = write(Path(settings.BASE_DIR))
            self.stdout.write(", ".join(changed) + " updated." if changed else "Already up to date.")
        else:
            self.stdout.write(role_matrix.full_reference())
