"""Load the demo organisation: every app contributes its part in ``<app>/demo.py``.

Each ``demo.py`` defines ``seed(ctx)``; apps run in INSTALLED_APPS order (lower layers first)
and share ``ctx`` (users, teams, services...). Every seed is idempotent: running the command
again converges on the same data instead of duplicating it.
"""

import importlib
from types import SimpleNamespace

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from opsportal import env


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
        for config in apps.get_app_configs():
            try:
                module = importlib.import_module(f"{config.name}.demo")
            except ModuleNotFoundError as exc:
                if exc.name != f"{config.name}.demo":
                    raise
                continue
            with transaction.atomic():
                summary = module.seed(ctx)
            if summary:
                self.stdout.write(f"  {config.verbose_name}: {summary}")
        self.stdout.write(self.style.SUCCESS(f"Demo data ready. Logins (password for all: {ctx.password}):"))
        for username, role in ctx.logins:
            self.stdout.write(f"  {username:<10} {role}")
