from django.apps import AppConfig


class OncallConfig(AppConfig):
    name = "oncall"
    verbose_name = "On-call"

    def ready(self) -> None:
        from identity.signals import collect_references
        from oncall.departures import references

        # A person who leaves: the schedules and escalation levels that still name them.
        collect_references.connect(references, dispatch_uid="oncall.departures")
