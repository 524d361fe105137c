from django.db import migrations, models


class Migration(migrations.Migration):
    """One current signature per slot (instead of one valid one), and only a signature that no
    longer holds can be superseded. After 0004 has linked the existing signatures."""

    dependencies = [("readiness", "0004_signature_supersession_data")]

    operations = [
        migrations.RemoveConstraint(
            model_name="signature",
            name="readiness_signature_one_valid_per_slot",
        ),
        migrations.AddConstraint(
            model_name="signature",
            constraint=models.UniqueConstraint(
                condition=models.Q(("superseded_at__isnull", True)),
                fields=("review", "slot"),
                name="readiness_signature_one_current_per_slot",
            ),
        ),
        migrations.AddConstraint(
            model_name="signature",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("superseded_at__isnull", True), ("invalidated_at__isnull", False), _connector="OR"
                ),
                name="readiness_signature_superseded_was_invalidated",
            ),
        ),
    ]
