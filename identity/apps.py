from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "identity"
    verbose_name = "Identity and sign-in audit"

    def ready(self) -> None:
        from identity import (
            checks,  # noqa: F401  (system checks for the SSO settings)
            receivers,  # noqa: F401  (sign-in audit for password sign-ins)
        )
