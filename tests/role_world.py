"""The lived-in world the role matrix is checked on, and how each door is observed.

``world()`` loads the demo data (every feature has rows) and gives each role one person, plus
things they own (contact methods, calendar feeds, quiet hours, a support escalation) and the
same things owned by someone else, so "own rows only" can be told from "every row".

The observe_* functions turn what a door answered into a matrix cell (see
``opsportal/role_matrix.py`` for the codes).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import override_settings

from accounts import roles
from opsportal.role_matrix import ROLES

REFUSED = {401, 403, 404}


@dataclass
class World:
    users: dict[str, object]  # role key -> user (None for anonymous)
    other: object  # a responder who owns the "someone else's" rows
    owned: dict[str, dict[str, list[int]]] = field(default_factory=dict)  # model label -> user key -> ids


# Models whose rows belong to a person: label -> the fields that make a row someone's.
OWNER_FIELDS: dict[str, tuple[str, ...]] = {
    "accounts.apitoken": ("user",),
    "notifications.contactmethod": ("user",),
    "notifications.notification": ("recipient",),
    "oncall.calendarfeed": ("user", "created_by"),
    "reminders.quiethours": ("user",),
    "escalations.escalation": ("reporter",),
}


def _make_person(username: str, *, role: str | None, staff: bool, superuser: bool = False):
    from django.contrib.auth.models import Group

    user_model = get_user_model()
    user, _ = user_model.objects.get_or_create(
        username=username,
        defaults={"email": f"{username}@example.com", "first_name": username.title()},
    )
    user.is_staff, user.is_superuser, user.is_active = staff or superuser, superuser, True
    user.set_password("pw-for-tests")
    user.save()
    user.groups.set(Group.objects.filter(name=role) if role else [])
    return user


def _own_things(user, schedule, service) -> None:
    """A contact method, a personal iCal feed, quiet hours and an API token for ``user``."""
    from accounts.services import create_token
    from notifications.models import Channel, ContactMethod
    from oncall.models import CalendarFeed
    from reminders.models import QuietHours

    ContactMethod.objects.create(
        user=user,
        channel=Channel.SLACK,
        label=f"{user.username} pager channel",
        url=f"https://hooks.slack.com/services/T000/B000/{user.username}-canary-secret",
    )
    CalendarFeed.objects.create(user=user, created_by=user)
    QuietHours.objects.update_or_create(user=user, defaults={"start": dt.time(22), "end": dt.time(7)})
    create_token(user=user, actor=user, name=f"{user.username} laptop")


def _fill_empty_tables(users, other, service) -> None:
    """Rows for the tables the demo leaves empty, so every door has something to show."""
    from django.utils import timezone
    from django_celery_beat.models import CrontabSchedule

    from notifications.services import notify
    from oncall.models import EscalationPolicy, ServicePolicy
    from oncall.services import open_page
    from probes.models import Probe
    from probes.services import open_alert
    from reminders.models import ReminderLog
    from reminders.services import sync_rule_configs
    from status.models import Component, Subscriber
    from status.services import schedule_maintenance

    policy = EscalationPolicy.objects.order_by("pk").first()
    ServicePolicy.objects.get_or_create(service=service, defaults={"policy": policy})
    open_page(title="Matrix page", summary="", url="", policy=policy, dedup_key="matrix-page")
    probe = Probe.objects.filter(kind=Probe.Kind.HTTP).order_by("pk").first()
    open_alert(probe=probe, now=timezone.now(), reason="matrix")
    sync_rule_configs()
    CrontabSchedule.objects.get_or_create(minute="0", hour="6", day_of_week="1", timezone="UTC")
    schedule_maintenance(
        actor=users["manager"],
        title="Database upgrade",
        starts_at=timezone.now() + dt.timedelta(days=2),
        ends_at=timezone.now() + dt.timedelta(days=2, hours=1),
        components=list(Component.objects.order_by("pk")[:1]),
    )
    Subscriber.objects.get_or_create(email="reader@customer.example")
    from axes.models import AccessAttempt, AccessFailureLog

    AccessAttempt.objects.create(username="someone", ip_address="192.0.2.10", failures_since_start=2)
    from identity import services as identity_services
    from identity.models import Departure, DirectoryGroup, ExternalIdentity

    identity_services.record(kind="sign_in", source="oidc", user=other, summary="matrix sign-in")
    identity_services.create_scim_token(name="Matrix directory")
    DirectoryGroup.objects.get_or_create(display_name="matrix-group")
    ExternalIdentity.objects.get_or_create(user=other, issuer="https://idp.example", subject="matrix-subject")
    Departure.objects.create(user=other, at=timezone.now(), source="scim", reverted_at=timezone.now())
    AccessFailureLog.objects.create(username="someone", ip_address="192.0.2.10")
    for user in [*(u for u in users.values() if u is not None), other]:
        notify(
            recipients=[user],
            kind="update",
            template="generic",
            context={"title": f"For {user.username}", "url": "/"},
            idempotency_key=f"matrix-{user.pk}",
        )
        ReminderLog.objects.create(
            rule="matrix", object_key=f"user:{user.pk}", due_point=timezone.now(),
            recipient_key=f"user:{user.pk}", recipient=user, summary="matrix",
        )  # fmt: skip


def world() -> World:
    """Demo data plus one person per role, each owning rows of the person-owned models."""
    from catalog.models import Service
    from escalations.services import submit_escalation
    from oncall.models import Schedule

    with override_settings(DEBUG=True):
        call_command("seed_demo", verbosity=0)
    users: dict[str, object] = {
        "anonymous": None,
        "norole": _make_person("matrix-norole", role=None, staff=False),
        "support": _make_person("matrix-support", role=roles.SUPPORT, staff=False),
        "responder": _make_person("matrix-responder", role=roles.RESPONDERS, staff=True),
        "releaselead": _make_person("matrix-releaselead", role=roles.RELEASE_LEADS, staff=True),
        "manager": _make_person("matrix-manager", role=roles.MANAGERS, staff=True),
        "superuser": _make_person("matrix-superuser", role=None, staff=True, superuser=True),
    }
    other = _make_person("matrix-other", role=roles.RESPONDERS, staff=True)
    schedule = Schedule.objects.order_by("pk").first()
    service = Service.objects.order_by("pk").first()
    for key in ("responder", "releaselead", "manager", "superuser"):
        _own_things(users[key], schedule, service)
    _own_things(other, schedule, service)
    # Escalations: one by each person who may file (support and staff), one by another agent.
    another_agent = _make_person("matrix-other-agent", role=roles.SUPPORT, staff=False)
    filers = [u for k, u in users.items() if k not in ("anonymous", "norole")]
    for reporter in (*filers, another_agent):
        submit_escalation(
            reporter=reporter,
            customer=f"Customer of {reporter.username}",
            contact="ops@customer.example",
            service=service,
            impact="degraded",
            summary="Checkout is slow for our users",
        )
    _fill_empty_tables(users, other, service)
    assert set(users) == {key for key, _label in ROLES}
    w = World(users=users, other=other)
    for label, fields in OWNER_FIELDS.items():
        model = apps.get_model(label)
        w.owned[label] = {}
        for key, user in [*users.items(), ("other", other)]:
            if user is None:
                continue
            from django.db.models import Q

            condition = Q()
            for name in fields:
                condition |= Q(**{name: user})
            w.owned[label][key] = list(model.objects.filter(condition).values_list("pk", flat=True))
    return w


def scope_of(label: str, ids: set[int], user_key: str, w: World) -> str:
    """'r' every row of the model, 'o' only rows the person owns, 'y' some other selection."""
    model = apps.get_model(label)
    every = set(model._default_manager.values_list("pk", flat=True))
    if ids == every and every:
        return "r"
    own = set(w.owned.get(label, {}).get(user_key, []))
    if label in OWNER_FIELDS and ids <= own and own:
        return "o"
    return "y"


ADMIN_OPS = "lvhaed"  # list, view (change page), history, add, edit (the page saves), delete


def admin_cell(ops: str, own_only: bool) -> str:
    ops = "".join(op for op in ADMIN_OPS if op in ops)
    if not ops:
        return "-"
    return f"o:{ops}" if own_only else ops


_ADMIN_SAVE = re.compile(rb'name="_save"')


def has_save_button(content: bytes) -> bool:
    return bool(_ADMIN_SAVE.search(content))
