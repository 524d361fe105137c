"""Load the demo organisation: every app contributes its part in ``<app>/demo.py``.

Each ``demo.py`` defines ``seed(ctx)``; apps run in INSTALLED_APPS order (lower layers first)
and share ``ctx`` (users, teams, services...). Every seed is idempotent: running the command
again converges on the same data instead of duplicating it.
"""

from types import SimpleNamespace

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from opsportal import env
from opsportal.discovery import app_modules


class Command(BaseCommand):
    help = "Create (or refresh) the demo organisation, with one login per role."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Allow seeding when DEBUG is off.")

    def handle(self, *args, force=False, **options):
        if not settings.DEBUG and not force:
            raise CommandError("Refusing to load demo data (and demo passwords) with DEBUG off; use --force.")
        ctx = SimpleNamespace(
            password=env.get_str("DEMO_PASSWORD", "opsportal-demo"),
            logins=[],
            stdout=self.stdout,
        )
        for config, module in app_modules("demo"):
            with transaction.atomic():
                summary = module.seed(ctx)
            if summary:
                self.stdout.write(f"  {config.verbose_name}: {summary}")
        self.stdout.write(self.style.SUCCESS(f"Demo data ready. Logins (password for all: {ctx.password}):"))
        for username, role in ctx.logins:
            self.stdout.write(f"  {username:<10} {role}")
