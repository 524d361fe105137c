"""Print or write the "Roles and permissions" documentation from opsportal/role_matrix.py."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from opsportal import role_matrix


def readme_block() -> str:
    return "\n".join(
        [
            role_matrix.README_BEGIN,
            role_matrix.admin_summary(),
            "",
            f"Every API operation, admin action and page, per role: [{role_matrix.DOCS_PATH}]"
            f"({role_matrix.DOCS_PATH}).",
            role_matrix.README_END,
        ]
    )


def write(base: Path) -> list[str]:
    """Update the README block and the docs page; return the files changed."""
    changed = []
    readme = base / "README.md"
    text = readme.read_text(encoding="utf-8")
    start, end = text.find(role_matrix.README_BEGIN), text.find(role_matrix.README_END)
    if start < 0 or end < 0:
        raise CommandError(f"README.md has no {role_matrix.README_BEGIN} ... {role_matrix.README_END} block")
    updated = text[:start] + readme_block() + text[end + len(role_matrix.README_END) :]
    if updated != text:
        readme.write_text(updated, encoding="utf-8")
        changed.append("README.md")
    docs = base / role_matrix.DOCS_PATH
    docs.parent.mkdir(exist_ok=True)
    reference = role_matrix.full_reference()
    if not docs.exists() or docs.read_text(encoding="utf-8") != reference:
        docs.write_text(reference, encoding="utf-8")
        changed.append(role_matrix.DOCS_PATH)
    return changed


class Command(BaseCommand):
    help = "Print the role matrix as Markdown, or --write it into README.md and docs/."

    def add_arguments(self, parser):
        parser.add_argument("--write", action="store_true", help="update README.md and the docs page")

    def handle(self, *args, **options):
        if options["write"]:
            changed = write(Path(settings.BASE_DIR))
            self.stdout.write(", ".join(changed) + " updated." if changed else "Already up to date.")
        else:
            self.stdout.write(role_matrix.full_reference())
