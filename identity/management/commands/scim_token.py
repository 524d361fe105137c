"""manage.py scim_token "Okta production": create a SCIM bearer token and print it once."""

from django.core.management.base import BaseCommand, CommandError

from identity import services
from opsportal.errors import ServiceError


class Command(BaseCommand):
    help = "Create a SCIM bearer token for the company directory (printed once, stored hashed)."

    def add_arguments(self, parser):
        parser.add_argument("name", help="Which directory uses it, e.g. 'Okta production'.")

    def handle(self, *args, name: str, **options):
        try:
            token, key = services.create_scim_token(name=name)
        except ServiceError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"SCIM token {token.name!r} (shown once, copy it now):\n{key}")
