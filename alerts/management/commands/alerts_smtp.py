"""Run the SMTP listener for e-mail alert integrations (mail to <key>@ALERTS_EMAIL_DOMAIN)."""

import signal
import threading

from django.core.management.base import BaseCommand

from alerts import mail


class Command(BaseCommand):
    help = "Listen for alert e-mail (SMTP) and turn it into alerts."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1", help="Address to listen on (default 127.0.0.1).")
        parser.add_argument(
            "--port", type=int, default=2525, help="Port (default 2525; 25 needs privileges)."
        )

    def handle(self, *args, host, port, **options):
        controller = mail.controller(host, port)
        controller.start()
        self.stdout.write(f"Listening for alert e-mail on {host}:{controller.port}")
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *a: stop.set())
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
        finally:
            controller.stop()
