"""Create the four role groups with their model permissions (accounts/roles.py).

Permissions are created here first (Django normally creates them after migrate), so the
groups hold them from this migration on. post_migrate re-runs the same sync after every
migrate, which is how permissions of models added by later migrations reach the groups.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def create_role_groups(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None

    from accounts.roles import sync_roles

    sync_roles(apps)


def remove_role_groups(apps, schema_editor):
    from accounts.roles import ALL_ROLES

    apps.get_model("auth", "Group").objects.filter(name__in=ALL_ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("catalog", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_role_groups, remove_role_groups)]
