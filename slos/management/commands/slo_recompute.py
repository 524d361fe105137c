"""Rebuild a probe SLO's rollups from the raw probe results still retained (after a maintenance
window was added in the past): ``manage.py slo_recompute <id> --days 7`` or ``--start/--end``."""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from opsportal.api.params import parse_instant
from opsportal.errors import ServiceError
from slos import services
from slos.models import SLO


class Command(BaseCommand):
    help = "Re-roll-up a probe SLO from raw probe results (maintenance windows applied as they are now)."

    def add_arguments(self, parser):
        parser.add_argument("slo_id", type=int)
        parser.add_argument(
            "--days", type=int, default=None, help="The last N days (default: the SLO window)."
        )
        parser.add_argument("--start", help="ISO 8601 with offset, e.g. 2026-03-01T00:00:00Z")
        parser.add_argument("--end", help="ISO 8601 with offset (default now)")

    def handle(self, *args, slo_id, days=None, start=None, end=None, **options):
        slo = SLO.objects.filter(pk=slo_id).first()
        if slo is None:
            raise CommandError(f"No SLO {slo_id}.")
        try:
            until = parse_instant(end, name="end") if end else timezone.now()
            if start:
                since = parse_instant(start, name="start")
            else:
                since = until - timedelta(days=days or {"7d": 7, "28d": 28, "30d": 30}.get(slo.window, 31))
            rows = services.recompute(slo=slo, start=since, end=until)
        except ServiceError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(
            f"{slo}: {rows} minute(s) with checks between {since:%Y-%m-%d %H:%M} and {until:%Y-%m-%d %H:%M} UTC"
        )
