import factory

from runbooks.models import Runbook
from tests.factories import TeamFactory


class RunbookFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Runbook
        skip_postgeneration_save = True

    title = factory.Sequence(lambda n: f"Runbook {n}")
    slug = factory.Sequence(lambda n: f"runbook-{n}")
    owner_team = factory.SubFactory(TeamFactory)
    scenarios = "Something is down"
    diagnostic_steps = "1. Look at the dashboard"
    mitigation = "1. Restart it"

    @factory.post_generation
    def services(self, create, extracted, **kwargs):
        if create and extracted:
            self.services.set(extracted)
