import json
import sys

import redis
from django.core.management.base import BaseCommand, CommandError

from opsportal import workers


class Command(BaseCommand):
    help = (
        "List Celery workers per queue from their heartbeats (node name, pid, age). "
        "--check exits 1 unless every queue has a live worker."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--check", action="store_true", help="Exit 1 unless every queue has a live worker."
        )
        parser.add_argument(
            "--json", action="store_true", dest="as_json", help="One JSON object instead of the table."
        )

    def handle(self, *args, check=False, as_json=False, **options):
        client = workers.client()
        try:
            report = workers.liveness(client, workers.queue_names())
        except redis.RedisError as exc:
            raise CommandError(f"cannot read worker heartbeats from the broker: {exc}") from exc
        finally:
            client.close()
        if as_json:
            self._json(report)
        else:
            self._table(report)
        if check and not all(r.alive for r in report.values()):
            sys.exit(1)

    def _table(self, report) -> None:
        self.stdout.write(f"stale after {workers.stale_after()} s without a heartbeat")
        width = max(len(q) for q in report)
        for queue, live in report.items():
            self.stdout.write(f"{queue:<{width}}  {live.alive} alive")
            for w in live.workers:
                state = "alive" if w.alive else "stale"
                self.stdout.write(f"    {w.hostname} pid {w.pid}  last beat {w.age:.1f} s ago  {state}")

    def _json(self, report) -> None:
        body = {
            "stale_after_seconds": workers.stale_after(),
            "queues": {
                queue: {
                    **live.as_dict(),
                    "workers": [
                        {
                            "hostname": w.hostname,
                            "pid": w.pid,
                            "age_seconds": round(w.age, 1),
                            "alive": w.alive,
                        }
                        for w in live.workers
                    ],
                }
                for queue, live in report.items()
            },
        }
        self.stdout.write(json.dumps(body))
