import factory

from probes.models import MaintenanceWindow, Probe
from tests.factories import ServiceFactory


class ProbeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Probe

    name = factory.Sequence(lambda n: f"probe {n}")
    service = factory.SubFactory(ServiceFactory)
    kind = Probe.Kind.HTTP
    url = factory.Sequence(lambda n: f"https://example.com/health/{n}")
    timeout_seconds = 5.0
    failure_threshold = 2
    success_threshold = 1


class HeartbeatFactory(ProbeFactory):
    kind = Probe.Kind.HEARTBEAT
    url = ""
    period_seconds = 3600
    grace_seconds = 300


class MaintenanceWindowFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MaintenanceWindow

    reason = "planned maintenance"
