"""Test data factories: one place for every model the tests build."""

import factory
from django.contrib.auth.models import Group

from accounts.models import User
from catalog.models import Service, ServiceDependency, ServiceLink, Team


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("pw-for-tests")

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        if create and extracted:
            self.groups.add(*Group.objects.filter(name__in=extracted))


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    name = factory.Sequence(lambda n: f"Team {n}")
    slug = factory.Sequence(lambda n: f"team-{n}")
    manager = factory.SubFactory(UserFactory)


class ServiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Service

    name = factory.Sequence(lambda n: f"Service {n}")
    slug = factory.Sequence(lambda n: f"service-{n}")
    owner_team = factory.SubFactory(TeamFactory)
    tier = Service.Tier.TIER_2


class ServiceDependencyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ServiceDependency

    service = factory.SubFactory(ServiceFactory)
    depends_on = factory.SubFactory(ServiceFactory)


class ServiceLinkFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ServiceLink

    service = factory.SubFactory(ServiceFactory)
    kind = ServiceLink.Kind.DASHBOARD
    title = "Overview"
    url = factory.Sequence(lambda n: f"https://grafana.example.com/d/{n}")
