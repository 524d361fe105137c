"""``manage.py report_deploy start|finish``: report a deployment from inside the deployment
environment (no API token), through the same services as ``/api/v1/deployments/``.

    manage.py report_deploy start --as ci-bot --key "$CI_PIPELINE_ID" --service checkout-api \\
        --version 3.2.0 --commit-sha "$SHA" --commit-at 2026-03-01T09:12:00Z
    manage.py report_deploy finish --as ci-bot --key "$CI_PIPELINE_ID" --outcome succeeded

Prints the deployment's id and status. Exit 1: refused (the reason is printed); a repeat of a
start prints the first record; finishing a finished deployment exits 1 with its state.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.models import User
from catalog.models import Service
from deployments import services
from deployments.models import PRODUCTION, Deployment
from opsportal.api.params import parse_instant
from opsportal.errors import ServiceError
from opsportal.parsing import parse_id
from readiness.models import Release


class Command(BaseCommand):
    help = "Report a deployment's start or its outcome (idempotent on --key)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="step", required=True)
        start = sub.add_parser("start", help="A deploy started.")
        finish = sub.add_parser("finish", help="A deploy finished.")
        for p in (start, finish):
            p.add_argument(
                "--as", dest="username", required=True, help="The reporting account (needs the role)."
            )
            p.add_argument("--key", required=True, help="Idempotency key (e.g. the pipeline run id).")
        start.add_argument("--service", action="append", required=True, help="Service slug (repeatable).")
        start.add_argument("--version", required=True)
        start.add_argument("--env", default=PRODUCTION)
        start.add_argument("--started-at", help="ISO 8601 with offset (default: now).")
        start.add_argument("--commit-sha", default="")
        start.add_argument("--commit-at", help="ISO 8601 with offset (for lead time).")
        start.add_argument("--pipeline-url", default="")
        start.add_argument("--triggered-by", default="")
        start.add_argument("--release", help="Release id.")
        finish.add_argument("--outcome", required=True, choices=list(Deployment.OUTCOMES))
        finish.add_argument("--finished-at", help="ISO 8601 with offset (default: now).")

    def handle(self, *args, step, username, key, **opts):
        actor = User.objects.filter(username=username, is_active=True).first()
        if actor is None:
            raise CommandError(f"No active account {username!r}.")
        try:
            if step == "start":
                deployment, created = self._start(actor, key, opts)
                word = "recorded" if created else "already recorded"
            else:
                deployment = self._finish(actor, key, opts)
                word = "finished"
        except services.AlreadyFinished as exc:
            raise CommandError(exc.message) from exc
        except ServiceError as exc:
            raise CommandError(f"{exc.field + ': ' if exc.field else ''}{exc.message}") from exc
        self.stdout.write(f"deployment {deployment.pk} {word}: {deployment.version} {deployment.status}")

    def _time(self, raw, name):
        return parse_instant(raw, name=name) if raw else None

    def _start(self, actor, key, opts):
        slugs = opts["service"]
        found = list(Service.objects.filter(slug__in=slugs))
        missing = sorted(set(slugs) - {s.slug for s in found})
        if missing:
            raise CommandError(f"Unknown service(s): {', '.join(missing)}.")
        release = None
        if opts.get("release"):
            release = Release.objects.filter(pk=parse_id(opts["release"]) or 0).first()
            if release is None:
                raise CommandError(f"No release {opts['release']}.")
        with transaction.atomic():
            return services.report_start(
                actor=actor, client_key=key, services=found, version=opts["version"], environment=opts["env"],
                started_at=self._time(opts.get("started_at"), "started_at"), commit_sha=opts["commit_sha"],
                commit_at=self._time(opts.get("commit_at"), "commit_at"), pipeline_url=opts["pipeline_url"],
                triggered_by=opts["triggered_by"], release=release,
            )  # fmt: skip

    def _finish(self, actor, key, opts):
        deployment = Deployment.objects.filter(client_key=key).first()
        if deployment is None:
            raise CommandError(f"No deployment with key {key!r}.")
        return services.report_finish(
            actor=actor, deployment=deployment, outcome=opts["outcome"],
            finished_at=self._time(opts.get("finished_at"), "finished_at"),
        )  # fmt: skip
