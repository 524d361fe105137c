import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    """The signature's hash covers the release's plan as well as the items (renamed), and a
    signature can be superseded by a later one of its slot (kept for audit)."""

    dependencies = [
        ("readiness", "0002_default_template"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RenameField("signature", "items_hash", "content_hash"),
        migrations.RenameField("historicalsignature", "items_hash", "content_hash"),
        migrations.AlterModelOptions(
            name="signature",
            options={"ordering": ["review", "signed_at", "pk"]},
        ),
        migrations.AddField(
            model_name="historicalsignature",
            name="superseded_at",
            field=models.DateTimeField(
                blank=True, help_text="When a new signature of this slot replaced this one.", null=True
            ),
        ),
        migrations.AddField(
            model_name="historicalsignature",
            name="supersedes",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                help_text="The earlier signature of this slot that this one replaced.",
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="readiness.signature",
            ),
        ),
        migrations.AddField(
            model_name="signature",
            name="superseded_at",
            field=models.DateTimeField(
                blank=True, help_text="When a new signature of this slot replaced this one.", null=True
            ),
        ),
        migrations.AddField(
            model_name="signature",
            name="supersedes",
            field=models.OneToOneField(
                blank=True,
                help_text="The earlier signature of this slot that this one replaced.",
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="superseded_by",
                to="readiness.signature",
            ),
        ),
        migrations.AlterField(
            model_name="historicalsignature",
            name="content_hash",
            field=models.CharField(
                help_text="SHA-256 over the signed content: item states and the release's plan.",
                max_length=64,
            ),
        ),
        migrations.AlterField(
            model_name="historicalsignature",
            name="snapshot",
            field=models.JSONField(
                default=dict, help_text="The content that was signed (items and release plan)."
            ),
        ),
        migrations.AlterField(
            model_name="signature",
            name="content_hash",
            field=models.CharField(
                help_text="SHA-256 over the signed content: item states and the release's plan.",
                max_length=64,
            ),
        ),
        migrations.AlterField(
            model_name="signature",
            name="snapshot",
            field=models.JSONField(
                default=dict, help_text="The content that was signed (items and release plan)."
            ),
        ),
    ]
