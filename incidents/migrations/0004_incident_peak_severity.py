import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0003_incident_runbooks"),
    ]

    operations = [
        migrations.AddField(
            model_name="historicalincident",
            name="peak_severity",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                editable=False,
                help_text="The most severe level it ever had; decides whether a postmortem is required.",
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="incidents.severity",
            ),
        ),
        migrations.AddField(
            model_name="incident",
            name="peak_severity",
            field=models.ForeignKey(
                editable=False,
                help_text="The most severe level it ever had; decides whether a postmortem is required.",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="incidents.severity",
            ),
        ),
    ]
