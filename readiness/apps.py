from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _ensure_default_template(sender, **kwargs):
    from readiness.defaults import ensure_default_template
    from readiness.models import ReadinessTemplate, TemplateItem

    ensure_default_template(ReadinessTemplate, TemplateItem)


class ReadinessConfig(AppConfig):
    name = "readiness"
    verbose_name = "Release readiness"

    def ready(self) -> None:
        # The data migration seeds the default template; a test flush gets it back after
        # every migrate (post_migrate), like the incident severities.
        post_migrate.connect(_ensure_default_template, sender=self, dispatch_uid="readiness.default_template")
