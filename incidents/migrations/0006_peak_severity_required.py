import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0005_backfill_peak_severity"),
    ]

    operations = [
        migrations.AlterField(
            model_name="incident",
            name="peak_severity",
            field=models.ForeignKey(
                editable=False,
                help_text="The most severe level it ever had; decides whether a postmortem is required.",
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="incidents.severity",
            ),
        ),
    ]
