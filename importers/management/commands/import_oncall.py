"""manage.py import_oncall <pagerduty|opsgenie|grafana-oncall>: dry run by default (prints the
plan, changes nothing); --apply executes it and verifies four weeks of final shifts."""

from __future__ import annotations

import json

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from importers import planner, services
from importers.http import SourceError


class Command(BaseCommand):
    help = "Import users, teams, services, schedules and escalation policies from another pager."

    def add_arguments(self, parser):
        parser.add_argument("source", choices=sorted(services.READERS))
        parser.add_argument(
            "--as", dest="actor", required=True, help="Username the import acts as (a manager)."
        )
        parser.add_argument("--apply", action="store_true", help="Execute the plan (default: dry run).")
        parser.add_argument("--base-url", default="", help="API address (Grafana OnCall: your instance's).")
        parser.add_argument(
            "--api-key-file", default="", help="File holding the API key (else IMPORT_<SOURCE>_API_KEY)."
        )
        parser.add_argument(
            "--export-dir", default="", help="Read an export directory of the API's JSON instead."
        )
        parser.add_argument(
            "--create-missing-users", action="store_true", help="Create missing people inactive."
        )
        parser.add_argument("--json", action="store_true", help="Print the whole result as JSON.")

    def handle(self, *args, **opts):
        actor = get_user_model().objects.filter(username=opts["actor"]).first()
        if actor is None:
            raise CommandError(f"No user {opts['actor']!r}.")
        try:
            client = services.open_source(opts["source"], base_url=opts["base_url"], key_file=opts["api_key_file"],
                                          export_dir=opts["export_dir"])  # fmt: skip
        except SourceError as exc:
            raise CommandError(str(exc)) from None
        try:
            result = services.run_import(source=opts["source"], client=client, actor=actor, apply=opts["apply"],
                                         create_missing_users=opts["create_missing_users"])  # fmt: skip
        finally:
            client.close()
        run = services.record_run(actor=actor, source=opts["source"], result=result, applied=opts["apply"],
                                  base_url=opts["base_url"])  # fmt: skip
        if opts["json"]:
            self.stdout.write(json.dumps(result, indent=2, default=str))
            return
        for group, counts in planner.summary(result["plan"]).items():
            self.stdout.write(f"{group:12} " + ", ".join(f"{n} {a}" for a, n in sorted(counts.items())))
        for row in result["plan"]:
            if row["action"] != planner.SKIP:
                self.stdout.write(f"  {row['action']:10} {row['group']:11} {row['name']}  {row['reason']}")
        for line in result["report"]:
            self.stdout.write(line)
        for u in result["new_urls"]:
            self.stdout.write(f"new URL for {u['name']} ({u['service']}): {u['url']}")
        for v in result["verification"]:
            if v.get("mapped") and v.get("agreement") is not None:
                self.stdout.write(
                    f"verified {v['schedule']}: {v['agreement']} % agreement, {v['difference_count']} differences"
                )
                for d in v["differences"]:
                    self.stdout.write(f"    source {d['source']}  |  portal {d['portal']}")
            else:
                self.stdout.write(f"not verified {v['schedule']}: {v['reason']}")
        self.stdout.write(f"stored as import run #{run.pk}")
        if not result["ok"]:
            raise CommandError("import failed: see the report above")
