from django.apps import AppConfig


class MetricsConfig(AppConfig):
    name = "metrics"
    verbose_name = "Metrics and dashboard"

    def ready(self):
        from django.contrib import admin

        # The admin index is the operations dashboard (the app list stays below it).
        admin.site.index_template = "admin/metrics/index.html"
