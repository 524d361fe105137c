from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_roles(sender, using="default", **kwargs):
    from django.apps import apps
    from django.contrib.auth.management import create_permissions

    from accounts.roles import sync_roles

    # post_migrate is sent app by app, so permissions of apps after this one may not exist
    # yet: create them all first (idempotent), then grant. Also restores the groups after
    # a test flush.
    for app_config in apps.get_app_configs():
        create_permissions(app_config, verbosity=0, using=using)
    sync_roles()


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "People and roles"

    def ready(self) -> None:
        post_migrate.connect(_sync_roles, sender=self, dispatch_uid="accounts.sync_roles")
        from accounts import lockout  # noqa: F401  (connects the lockout log line to axes' signal)
