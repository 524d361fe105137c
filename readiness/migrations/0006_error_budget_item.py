"""Add the error-budget item (automatic check ``error_budget``, issue 23) to an existing default
template; a fresh install gets it from ``readiness.defaults`` in 0002."""

from django.db import migrations
from django.db.models import Max

from readiness.defaults import DEFAULT_ITEMS, DEFAULT_TEMPLATE_NAME


def add_item(apps, schema_editor):
    Template = apps.get_model("readiness", "ReadinessTemplate")
    Item = apps.get_model("readiness", "TemplateItem")
    template = Template.objects.filter(name=DEFAULT_TEMPLATE_NAME).first()
    if template is None or Item.objects.filter(template=template, key="error-budget").exists():
        return
    key, title, guidance, required, high, evidence, check = next(
        i for i in DEFAULT_ITEMS if i[0] == "error-budget"
    )
    position = (Item.objects.filter(template=template).aggregate(m=Max("position"))["m"] or 0) + 1
    Item.objects.create(
        template=template, position=position, key=key, title=title, guidance=guidance, required=required,
        required_for_high_risk=high, evidence_required=evidence, check_key=check,
    )  # fmt: skip


def remove_item(apps, schema_editor):
    apps.get_model("readiness", "TemplateItem").objects.filter(
        template__name=DEFAULT_TEMPLATE_NAME, key="error-budget"
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("readiness", "0005_signature_one_current_per_slot")]

    operations = [migrations.RunPython(add_item, remove_item)]
