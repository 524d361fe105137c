from django.db import migrations

from readiness.defaults import DEFAULT_TEMPLATE_NAME, ensure_default_template


def seed(apps, schema_editor):
    ensure_default_template(
        apps.get_model("readiness", "ReadinessTemplate"), apps.get_model("readiness", "TemplateItem")
    )


def unseed(apps, schema_editor):
    apps.get_model("readiness", "ReadinessTemplate").objects.filter(name=DEFAULT_TEMPLATE_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [("readiness", "0001_releases_reviews_signatures")]

    operations = [migrations.RunPython(seed, unseed)]
