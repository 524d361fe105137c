from django.apps import AppConfig


class SlosConfig(AppConfig):
    name = "slos"
    verbose_name = "SLOs and error budgets"

    def ready(self) -> None:
        # probes (same layer) announces stored results with a signal so it never imports slos;
        # the rollup runs inside the probe sweep's transaction (exactly once with the results).
        from probes.signals import results_recorded
        from slos import rollups

        results_recorded.connect(rollups.on_results_recorded, dispatch_uid="slos.rollups")
