"""Factories for support escalations: a team whose default policy pages its on-call
engineer, and escalations filed through the service like everything else."""

from escalations import services, tasks
from escalations.models import Impact
from oncall.models import EscalationLevel, EscalationPolicy
from tests.factories import ServiceFactory, TeamFactory, UserFactory


def paged_service(*, name="Checkout", slug=None, team_name=None, oncaller=None, manager=None):
    """A service owned by a team with a default escalation policy (level 1: ``oncaller``)."""
    manager = manager or UserFactory(email="lead@example.com")
    oncaller = oncaller or UserFactory(email="oncaller@example.com")
    team = TeamFactory(
        manager=manager, email="team@example.com", **({"name": team_name} if team_name else {})
    )
    team.members.add(oncaller)
    policy = EscalationPolicy.objects.create(team=team, name=f"{team.name} default", is_team_default=True)
    EscalationLevel.objects.create(policy=policy, position=1, delay_minutes=5).users.add(oncaller)
    EscalationLevel.objects.create(policy=policy, position=2, delay_minutes=10).users.add(manager)
    return ServiceFactory(name=name, owner_team=team, **({"slug": slug} if slug else {}))


def file(
    reporter,
    *,
    service=None,
    impact=Impact.BLOCKED,
    customer="acme-corp",
    summary="Checkout shows error 500",
    dispatch=True,
    **kwargs,
):
    """File through the service; then (``dispatch``) run what the worker runs on commit -
    paging on-call or telling the team - and return the escalation as it is afterwards."""
    escalation = services.submit_escalation(
        reporter=reporter,
        customer=customer,
        contact=kwargs.pop("contact", "ops@acme.example"),
        service=service,
        summary=summary,
        impact=impact,
        **kwargs,
    )  # fmt: skip
    if dispatch:
        services.dispatch(escalation_id=escalation.pk)
        escalation.refresh_from_db()
    return escalation


def run_dispatch(escalation):
    """A filing made through the form or the API is queued for the worker: run its task here
    (called directly, as the worker would on commit) and return the escalation afterwards."""
    escalation.refresh_from_db()
    assert escalation.dispatched_at is None, "filed, not yet dispatched"
    tasks.dispatch(escalation.pk)
    escalation.refresh_from_db()
    assert escalation.dispatched_at is not None
    return escalation
