from django.core.management.base import BaseCommand

from opsportal import periodic


class Command(BaseCommand):
    help = (
        "Write the periodic tasks declared in code (<app>/tasks.py PERIODIC_TASKS) into django-celery-beat."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--reset-schedules",
            action="store_true",
            help="Also overwrite schedules that were changed in the admin with the ones in code.",
        )

    def handle(self, *args, reset_schedules=False, **options):
        report = periodic.sync(periodic.collect(), reset_schedules=reset_schedules)
        self.stdout.write(
            f"periodic tasks: {len(report.created)} created, {len(report.updated)} updated, "
            f"{len(report.disabled)} disabled"
        )
        for name in report.disabled:
            self.stdout.write(f"  disabled (no longer in code): {name}")
