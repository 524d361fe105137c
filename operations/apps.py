from django.apps import AppConfig


class OperationsConfig(AppConfig):
    name = "operations"
    verbose_name = "Operating model"

    def ready(self) -> None:
        from identity.signals import collect_references
        from operations.departures import references

        # A person who leaves: the duties they own or back up.
        collect_references.connect(references, dispatch_uid="operations.departures")
