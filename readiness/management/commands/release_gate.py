"""``manage.py release_gate <release id | name [version]>``: exit 0 for go, 1 for no-go.

For pipelines that run inside the deployment environment (no API token needed). Reasons are
printed one a line; warnings too (they never change the exit code). Exit 2: no such release.
"""

from django.core.management.base import BaseCommand, CommandError

from opsportal.parsing import parse_id
from readiness import selectors, services
from readiness.models import Release


class Command(BaseCommand):
    help = "Ask the readiness gate whether a release may deploy now (exit 0 go, 1 no-go)."

    def add_arguments(self, parser):
        parser.add_argument("release", help="Release id, or name (newest open release of that name).")
        parser.add_argument("version", nargs="?", help="Version, when the release is given by name.")

    def handle(self, *args, release, version=None, **options):
        found = self._find(release, version)
        result = selectors.gate(found)
        services.record_gate(release=found, result=result)
        self.stdout.write(
            f"{found}: {result.decision.upper()} (checked {result.checked_at:%Y-%m-%d %H:%M:%S} UTC)"
        )
        for reason in result.reasons:
            self.stdout.write(f"  - {reason}")
        for warning in result.warnings:
            self.stdout.write(f"  ! warning: {warning}")
        if result.decision != "go":
            raise SystemExit(1)

    def _find(self, ref: str, version: str | None) -> Release:
        qs = Release.objects.all()
        pk = parse_id(ref) if version is None else None
        if pk is not None:
            match = qs.filter(pk=pk).first()
            if match:
                return match
        named = qs.filter(name=ref)
        if version:
            named = named.filter(version=version)
        else:
            open_first = named.filter(status__in=Release.OPEN_STATUSES).order_by("-window_start").first()
            if open_first:
                return open_first
        match = named.order_by("-window_start").first()
        if match is None:
            raise CommandError(f"No release {ref!r}{' ' + version if version else ''}.", returncode=2)
        return match
