"""Demo identity data: people who sign in with the company IdP (linked identities, directory
groups that map to roles), two weeks of sign-in audit with a few refusals, and a leaver the
directory deprovisioned."""

from __future__ import annotations

import random
from datetime import timedelta

from django.utils import timezone

from accounts.models import User
from identity import services
from identity.models import AuditEvent, Departure, DirectoryGroup, ExternalIdentity, ScimToken

ISSUER = "https://login.example.com/oauth2/default"
GROUPS = {
    "ops-managers": ["maya", "omar", "lena", "noah", "grace"],
    "oncall": [
        "ravi",
        "alice",
        "bob",
        "carlos",
        "dana",
        "erik",
        "fatima",
        "george",
        "hana",
        "ivan",
        "jun",
        "kofi",
    ],
    "support-desk": ["sam", "tess"],
    "release-leads": ["rita"],
}
ADDRESSES = ["10.20.4.17", "10.20.4.58", "192.0.2.44", "198.51.100.23", "10.20.7.3"]
AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"


def seed(ctx) -> str:
    people = {
        u.username: u for u in User.objects.filter(username__in=[n for g in GROUPS.values() for n in g])
    }
    for name, members in GROUPS.items():
        group, _ = DirectoryGroup.objects.get_or_create(
            display_name=name, defaults={"external_id": f"00g{name}"}
        )
        group.members.set([people[m] for m in members if m in people])
    for i, user in enumerate(people.values()):
        ExternalIdentity.objects.get_or_create(
            user=user,
            issuer=ISSUER,
            defaults={"subject": f"00u{1000 + i}", "last_sign_in_at": timezone.now()},
        )
    if not ScimToken.objects.exists():
        services.create_scim_token(name="Okta production (demo)")

    # the leaver: provisioned by the directory, deprovisioned last week
    quinn, created = User.objects.get_or_create(
        username="quinn",
        defaults={"first_name": "Quinn", "last_name": "Baker", "email": "quinn@example.com"},
    )
    if created:
        quinn.set_unusable_password()
        quinn.save()
    if not Departure.objects.filter(user=quinn).exists():
        departure = services.deactivate_user(user=quinn, source=AuditEvent.Source.SCIM)
        Departure.objects.filter(pk=departure.pk).update(at=timezone.now() - timedelta(days=6))

    if AuditEvent.objects.filter(kind=AuditEvent.Kind.SIGN_IN).count() < 20:
        rng = random.Random(26)  # noqa: S311 - demo data, same history every run
        now = timezone.now()
        rows = []
        for day in range(14, 0, -1):
            for user in rng.sample(list(people.values()), k=min(8, len(people))):
                at = now - timedelta(days=day, hours=rng.randint(0, 10), minutes=rng.randint(0, 59))
                rows.append(
                    AuditEvent(
                        at=at, kind=AuditEvent.Kind.SIGN_IN, source=AuditEvent.Source.OIDC, user=user,
                        username=user.username, ip_address=rng.choice(ADDRESSES), user_agent=AGENT,
                        summary=f"{user.username} signed in with single sign-on",
                    )
                )  # fmt: skip
        ravi = people.get("ravi")
        rows += [
            AuditEvent(
                at=now - timedelta(days=3, hours=2), kind=AuditEvent.Kind.SIGN_IN_FAILED,
                source=AuditEvent.Source.OIDC, username="ravi@example.com", ip_address="192.0.2.44",
                user_agent=AGENT, changes={"reason": "expired"},
                summary="single sign-on refused (expired): The ID token has expired (check the clocks, "
                "OIDC_CLOCK_SKEW_SECONDS).",
            ),
            AuditEvent(
                at=now - timedelta(days=2, hours=5), kind=AuditEvent.Kind.SIGN_IN_FAILED,
                source=AuditEvent.Source.PASSWORD, username="admin", ip_address="203.0.113.9",
                user_agent="curl/8.5.0", changes={"reason": "bad_credentials"},
                summary="password sign-in as 'admin' failed",
            ),
        ]  # fmt: skip
        if ravi is not None:
            rows.append(
                AuditEvent(
                    at=now - timedelta(days=9), kind=AuditEvent.Kind.ROLES_CHANGED, source=AuditEvent.Source.OIDC,
                    user=ravi, username="ravi", ip_address="10.20.4.17", user_agent=AGENT,
                    summary="ravi: roles now Responders (from groups)",
                    changes={"added": ["Responders"], "removed": ["Release leads"], "groups": ["oncall"]},
                )
            )  # fmt: skip
        AuditEvent.objects.bulk_create(rows)
    return f"{len(people)} SSO identities, {DirectoryGroup.objects.count()} directory groups, 1 leaver"
