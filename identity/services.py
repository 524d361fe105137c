"""Writes for identity: people created and updated from the identity provider (OIDC sign-in,
SCIM), roles and teams re-synced from its groups, deactivation (the departure workflow), SCIM
tokens, and the audit row each of these leaves.

Every change lands in ``AuditEvent`` in the same transaction (who, when, from where, what
changed). Deactivation is one function whatever the door (SCIM, the admin): the account stops
working at once (sessions deleted, API tokens revoked), a ``Departure`` records the decision
that takes the person out of future on-call computation, every app above lists what still
names them (``identity.signals.collect_references``), and each owning team's manager is told
through the notifications outbox after commit.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from hmac import compare_digest

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.sessions.backends.base import SessionBase
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from accounts import permissions as account_permissions
from accounts import roles
from accounts import services as account_services
from catalog import services as catalog_services
from catalog.models import Team
from identity import signals
from identity.models import (
    AuditEvent,
    Departure,
    DirectoryGroup,
    ExternalIdentity,
    ManagedAccount,
    ScimToken,
    SessionRecord,
)
from notifications import services as notifications
from opsportal.errors import Conflict, InvalidInput, NotAllowed

log = logging.getLogger(__name__)
Kind, Source = AuditEvent.Kind, AuditEvent.Source

# --- settings ---------------------------------------------------------------------------------

_MAP_ITEM = re.compile(r"^\s*([^:]+?)\s*:\s*(.+?)\s*$")


def parse_map(raw: str, *, setting: str) -> dict[str, set[str]]:
    """``"idp-group:Portal name,other:Name"`` -> {idp group: {portal names}}. A group may be
    named twice (two roles). Raises ValueError naming the bad item."""
    out: dict[str, set[str]] = {}
    for item in (raw or "").split(","):
        if not item.strip():
            continue
        match = _MAP_ITEM.match(item)
        if not match:
            raise ValueError(f"{setting}: {item.strip()!r} is not 'idp-group:Portal name'.")
        out.setdefault(match.group(1), set()).add(match.group(2))
    return out


def role_map() -> dict[str, set[str]]:
    return parse_map(settings.SSO_ROLE_MAP, setting="SSO_ROLE_MAP")


def team_map() -> dict[str, set[str]]:
    return parse_map(settings.SSO_TEAM_MAP, setting="SSO_TEAM_MAP")


# --- audit ------------------------------------------------------------------------------------


def client_ip(request) -> str | None:
    if request is None:
        return None
    return import_string(settings.AXES_CLIENT_IP_CALLABLE)(request) or None


def record(
    *,
    kind: str,
    source: str,
    summary: str,
    user=None,
    actor=None,
    username: str = "",
    request=None,
    changes: dict | None = None,
) -> AuditEvent:
    """Append one audit row (the caller's transaction: all or nothing with the change)."""
    agent = request.META.get("HTTP_USER_AGENT", "")[:255] if request is not None else ""
    event = AuditEvent.objects.create(
        at=timezone.now(),
        kind=kind,
        source=source,
        user=user,
        actor=actor if getattr(actor, "pk", None) else None,
        username=(username or (user.get_username() if user is not None else ""))[:255],
        ip_address=client_ip(request),
        user_agent=agent,
        summary=summary[:500],
        changes=changes or {},
    )
    log.info("identity audit %s/%s: %s", kind, source, summary)
    return event


# --- roles and teams from the provider's groups ------------------------------------------------


def sync_groups(*, user, groups: Iterable[str], source: str, request=None) -> dict:
    """Give ``user`` exactly the portal roles and teams their provider groups map to (plus,
    with SSO_KEEP_MANUAL_ROLES, whatever was given by hand). Records what changed."""
    groups = {str(g) for g in groups}
    wanted_roles = set().union(*(role_map().get(g, set()) for g in groups)) & set(roles.ALL_ROLES)
    wanted_teams = set().union(*(team_map().get(g, set()) for g in groups))
    managed, _ = ManagedAccount.objects.select_for_update().get_or_create(user=user)
    changes: dict = {}

    current = set(user.groups.filter(name__in=roles.ALL_ROLES).values_list("name", flat=True))
    removable = set(managed.managed_roles) if settings.SSO_KEEP_MANUAL_ROLES else set(roles.ALL_ROLES)
    add_roles = wanted_roles - current
    drop_roles = (current - wanted_roles) & removable
    if add_roles:
        user.groups.add(*Group.objects.filter(name__in=add_roles))
    if drop_roles:
        user.groups.remove(*Group.objects.filter(name__in=drop_roles))
    if add_roles or drop_roles:
        changes["roles"] = [sorted(current), sorted((current | add_roles) - drop_roles)]
        record(
            kind=Kind.ROLES_CHANGED,
            source=source,
            user=user,
            request=request,
            summary=f"{user.get_username()}: roles now "
            f"{', '.join(sorted((current | add_roles) - drop_roles)) or 'none'} (from groups)",
            changes={"added": sorted(add_roles), "removed": sorted(drop_roles), "groups": sorted(groups)},
        )
    user.__dict__.pop("_role_names", None)  # accounts.permissions caches role names per instance

    if settings.SSO_TEAM_MAP:
        teams = {
            t.name: t
            for t in Team.objects.select_for_update().filter(
                name__in=wanted_teams
                | set(
                    managed.managed_teams
                    if settings.SSO_KEEP_MANUAL_ROLES
                    else user.teams.values_list("name", flat=True)
                )
            )
        }
        member_of = set(user.teams.values_list("name", flat=True))
        removable_teams = set(managed.managed_teams) if settings.SSO_KEEP_MANUAL_ROLES else member_of
        add_teams = {n for n in wanted_teams - member_of if n in teams}
        drop_teams = (member_of - wanted_teams) & removable_teams
        for name in add_teams | drop_teams:
            team = teams.get(name)
            if team is None:
                continue
            members = set(team.members.all())
            members = members | {user} if name in add_teams else members - {user}
            catalog_services.save_team(team=team, members=members)
        if add_teams or drop_teams:
            record(
                kind=Kind.TEAMS_CHANGED,
                source=source,
                user=user,
                request=request,
                summary=f"{user.get_username()}: teams +{sorted(add_teams)} -{sorted(drop_teams)} (from groups)",
                changes={"added": sorted(add_teams), "removed": sorted(drop_teams)},
            )
        managed.managed_teams = sorted(wanted_teams & set(Team.objects.values_list("name", flat=True)))
    managed.managed_roles = sorted(wanted_roles)
    managed.save(update_fields=["managed_roles", "managed_teams"])
    return changes


# --- OIDC sign-in: just-in-time accounts -------------------------------------------------------


class SignInRefused(Exception):
    """The identity provider's answer is not good enough to sign anyone in. ``reason`` is a
    short code for the audit row and tests; ``message`` is what the person is told."""

    def __init__(self, reason: str, message: str, *, username: str = "", user=None) -> None:
        super().__init__(message)
        self.reason, self.message, self.username, self.user = reason, message, username, user


def _unique_username(base: str) -> str:
    User = get_user_model()
    base = re.sub(r"[^\w.@+-]", "", base)[:140] or "user"
    candidate, n = base, 1
    while User.objects.filter(username__iexact=candidate).exists():
        n += 1
        candidate = f"{base}{n}"
    return candidate


@transaction.atomic
def sign_in_from_claims(*, issuer: str, claims: dict, request=None):
    """The person the verified claims describe, created or updated (just in time), roles
    re-synced from the groups claim. Found by (issuer, sub) first; the first sign-in links an
    existing account with the same e-mail. Raises ``SignInRefused``."""
    User = get_user_model()
    subject = str(claims.get("sub") or "")
    email = (claims.get("email") or "").strip()
    if not subject:
        raise SignInRefused("no_subject", "The identity provider did not say who you are (no subject).")
    if not email:
        raise SignInRefused(
            "missing_email", "The identity provider did not share your e-mail address.", username=subject
        )
    verified = claims.get("email_verified")
    if settings.SSO_REQUIRE_VERIFIED_EMAIL and verified is not True and str(verified).lower() != "true":
        raise SignInRefused(
            "unverified_email",
            f"The identity provider has not verified {email}; verify it there, then sign in again.",
            username=email,
        )
    link = (
        ExternalIdentity.objects.select_for_update()
        .select_related("user")
        .filter(issuer=issuer, subject=subject)
        .first()
    )
    created = False
    if link is not None:
        user = User.objects.select_for_update().get(pk=link.user_id)
    else:
        matches = list(User.objects.select_for_update().filter(email__iexact=email)[:2])
        if len(matches) > 1:
            raise SignInRefused(
                "ambiguous_email",
                f"Two accounts use {email}; ask an administrator to merge them.",
                username=email,
            )
        if matches:
            user = matches[0]
            if ExternalIdentity.objects.filter(user=user, issuer=issuer).exists():
                raise SignInRefused(
                    "subject_mismatch",
                    f"The account with {email} is linked to another identity at the provider.",
                    username=email,
                )
        elif settings.SSO_CREATE_USERS:
            user = User(username=_unique_username(claims.get("preferred_username") or email.split("@")[0]))
            user.set_unusable_password()
            created = True
        else:
            raise SignInRefused("no_account", f"There is no portal account for {email}.", username=email)
    if not user.is_active:
        raise SignInRefused("inactive", "Your portal account is deactivated.", username=email, user=user)

    before = {"email": user.email, "first_name": user.first_name, "last_name": user.last_name}
    user.email = email
    user.first_name = (claims.get("given_name") or user.first_name or "")[:150]
    user.last_name = (claims.get("family_name") or user.last_name or "")[:150]
    after = {"email": user.email, "first_name": user.first_name, "last_name": user.last_name}
    user.save()
    if link is None:
        try:
            with transaction.atomic():
                link = ExternalIdentity.objects.create(user=user, issuer=issuer, subject=subject)
        except IntegrityError:
            raise Conflict("Another sign-in for this person is in progress; try again.") from None
    link.last_sign_in_at = timezone.now()
    link.save(update_fields=["last_sign_in_at"])
    if created:
        record(
            kind=Kind.USER_CREATED,
            source=Source.OIDC,
            user=user,
            request=request,
            summary=f"{user.get_username()} created at first sign-in ({email})",
            changes={k: [None, v] for k, v in after.items()},
        )
    elif before != after:
        record(
            kind=Kind.USER_UPDATED,
            source=Source.OIDC,
            user=user,
            request=request,
            summary=f"{user.get_username()} updated from the identity provider",
            changes={k: [before[k], after[k]] for k in after if before[k] != after[k]},
        )
    groups = claims.get(settings.OIDC_GROUPS_CLAIM)
    if groups is not None or settings.SSO_ROLE_MAP:
        if isinstance(groups, str):
            groups = [groups]
        sync_groups(user=user, groups=groups or [], source=Source.OIDC, request=request)
    if account_permissions.holds_staff_role(user) != user.is_staff and not user.is_superuser:
        user.is_staff = account_permissions.holds_staff_role(user)
        user.save(update_fields=["is_staff"])
    return user


# --- sessions ---------------------------------------------------------------------------------


def remember_session(*, user, session_key: str | None) -> None:
    if session_key:
        SessionRecord.objects.get_or_create(session_key=session_key, defaults={"user": user})


def end_sessions(*, user) -> int:
    """Delete every session ``user`` signed in with (the session store's rows go at once)."""
    engine = import_string(f"{settings.SESSION_ENGINE}.SessionStore")
    keys = list(SessionRecord.objects.filter(user=user).values_list("session_key", flat=True))
    for key in keys:
        store: SessionBase = engine(session_key=key)
        store.delete()
    SessionRecord.objects.filter(user=user).delete()
    return len(keys)


# --- deactivation: the departure workflow -------------------------------------------------------


@dataclass
class Reference:
    """One thing that names a person: kind ("schedule", "escalation level", "duty owner",
    "action item"), a label, a link, the owning team and, for schedules, the gaps (ISO pairs)
    their leaving opens over the next two weeks."""

    kind: str
    label: str
    url: str = ""
    team_id: int | None = None
    team: str = ""
    gaps: list | None = None

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v not in (None, "")}


def references_to(user, *, at: datetime) -> list[dict]:
    """Everything the apps above say still names ``user`` (identity.signals)."""
    found: list[dict] = []
    for _receiver, answer in signals.collect_references.send(sender=Departure, user=user, at=at):
        found.extend((r.as_dict() if isinstance(r, Reference) else dict(r)) for r in answer or ())
    found.sort(key=lambda r: (r.get("team", ""), r["kind"], r["label"]))
    return found


def _managers_for(references: list[dict]) -> dict:
    """team id (or None) -> the people to tell: the team's manager, else every engineering
    manager (nobody owns it, so everyone accountable hears)."""
    team_ids = {r.get("team_id") for r in references}
    managers = dict(Team.objects.filter(pk__in=[t for t in team_ids if t]).values_list("pk", "manager_id"))
    User = get_user_model()
    fallback = list(User.objects.filter(is_active=True, groups__name=roles.MANAGERS).order_by("pk"))
    people = User.objects.in_bulk([m for m in managers.values() if m])
    out = {}
    for team_id in team_ids:
        manager = people.get(managers.get(team_id)) if team_id else None
        out[team_id] = [manager] if manager is not None and manager.is_active else fallback
    return out


@transaction.atomic
def deactivate_user(*, user, source: str, actor=None, request=None) -> Departure:
    """Deactivate ``user`` everywhere at once and record the departure. Idempotent: a second
    call returns the open departure and changes nothing."""
    User = get_user_model()
    if actor is not None and source == Source.ADMIN:
        if not (actor.is_active and actor.is_superuser):
            raise NotAllowed("Only superusers deactivate accounts.")
        if actor.pk == user.pk:
            raise InvalidInput("You cannot deactivate your own account.", field="is_active")
    locked = User.objects.select_for_update().get(pk=user.pk)
    open_departure = Departure.objects.filter(user=locked, reverted_at__isnull=True).first()
    if not locked.is_active and open_departure is not None:
        return open_departure
    now = timezone.now()
    was_active = locked.is_active
    locked.is_active = False
    locked.save(update_fields=["is_active"])
    user.is_active = False
    tokens = account_services.revoke_tokens_of_leaver(user=locked, actor=actor)
    sessions = end_sessions(user=locked)
    departure = open_departure or Departure.objects.create(user=locked, at=now, source=source, actor=actor)
    departure.references = references_to(locked, at=now)
    audiences = _managers_for(departure.references)
    departure.notified = sorted({m.get_username() for people in audiences.values() for m in people})
    departure.save(update_fields=["references", "notified"])
    record(
        kind=Kind.DEACTIVATED,
        source=source,
        user=locked,
        actor=actor,
        request=request,
        summary=f"{locked.get_username()} deactivated: {sessions} session(s) ended, {tokens} API token(s) "
        f"revoked, {len(departure.references)} thing(s) still name them",
        changes={
            "is_active": [was_active, False],
            "sessions_ended": sessions,
            "api_tokens_revoked": tokens,
            "references": departure.references,
        },
    )
    by_team: dict = {}
    for ref in departure.references:
        by_team.setdefault(ref.get("team_id"), []).append(ref)
    for team_id, people in audiences.items():
        refs = by_team.get(team_id, [])
        team_name = refs[0].get("team", "") if refs else ""
        notifications.notify(
            recipients=people,
            kind="update",
            template="identity/departure",
            context={
                "title": f"{locked} left: {len(refs)} thing(s) still name them"
                + (f" in {team_name}" if team_name else ""),
                "url": f"{settings.SITE_URL}/admin/identity/departure/{departure.pk}/change/",
                "person": str(locked),
                "team": team_name,
                "references": refs,
                "fields": [[r["kind"], r["label"]] for r in refs[:20]],
            },
            idempotency_key=f"identity:departure:{departure.pk}:team:{team_id or 0}",
            related=departure,
        )
    return departure


@transaction.atomic
def reactivate_user(*, user, source: str, actor=None, request=None):
    """Let a person back in (a rehire, a mistaken deprovisioning): active again and the open
    departure closed, so their rotation turns count again. Tokens stay revoked."""
    User = get_user_model()
    if actor is not None and source == Source.ADMIN and not (actor.is_active and actor.is_superuser):
        raise NotAllowed("Only superusers reactivate accounts.")
    locked = User.objects.select_for_update().get(pk=user.pk)
    if locked.is_active:
        return locked
    locked.is_active = True
    locked.save(update_fields=["is_active"])
    user.is_active = True
    Departure.objects.filter(user=locked, reverted_at__isnull=True).update(reverted_at=timezone.now())
    record(
        kind=Kind.REACTIVATED,
        source=source,
        user=locked,
        actor=actor,
        request=request,
        summary=f"{locked.get_username()} reactivated",
        changes={"is_active": [False, True]},
    )
    return locked


# --- SCIM provisioning ---------------------------------------------------------------------------

USER_PROFILE_FIELDS = ("username", "email", "first_name", "last_name")


@transaction.atomic
def scim_save_user(*, user, fields: dict, active: bool | None, external_id: str | None, request=None):
    """Create (``user.pk`` is None) or update a person from the directory."""
    User = get_user_model()
    creating = user.pk is None
    if not creating:
        user = User.objects.select_for_update().get(pk=user.pk)
    username = (fields.get("username") if "username" in fields else user.username) or ""
    if not username.strip():
        raise InvalidInput("userName is required.", field="userName")
    clash = User.objects.filter(username__iexact=username.strip())
    if not creating:
        clash = clash.exclude(pk=user.pk)
    if clash.exists():
        raise Conflict(f"userName {username!r} is already taken.")
    before = {k: getattr(user, k) for k in USER_PROFILE_FIELDS}
    for name in USER_PROFILE_FIELDS:
        if name in fields:
            value = (fields[name] or "").strip()
            max_length = User._meta.get_field(name).max_length
            if len(value) > max_length:
                raise InvalidInput(f"{name} is longer than {max_length} characters.", field=name)
            setattr(user, name, value)
    if creating:
        user.set_unusable_password()
        user.is_active = True if active is None else active
    user.save()
    managed, _ = ManagedAccount.objects.select_for_update().get_or_create(user=user)
    if external_id is not None and managed.external_id != external_id:
        if (
            external_id
            and ManagedAccount.objects.filter(external_id=external_id).exclude(pk=managed.pk).exists()
        ):
            raise Conflict(f"externalId {external_id!r} belongs to another person.")
        managed.external_id = external_id
    managed.scim_managed = True
    managed.save()
    after = {k: getattr(user, k) for k in USER_PROFILE_FIELDS}
    if creating:
        record(
            kind=Kind.USER_CREATED,
            source=Source.SCIM,
            user=user,
            request=request,
            summary=f"{user.get_username()} provisioned by the directory",
            changes={k: [None, v] for k, v in after.items()},
        )
    elif before != after:
        record(
            kind=Kind.USER_UPDATED,
            source=Source.SCIM,
            user=user,
            request=request,
            summary=f"{user.get_username()} updated by the directory",
            changes={k: [before[k], after[k]] for k in after if before[k] != after[k]},
        )
    if active is False and (user.is_active or creating):
        if not creating:
            deactivate_user(user=user, source=Source.SCIM, request=request)
    elif active is True and not user.is_active and not creating:
        reactivate_user(user=user, source=Source.SCIM, request=request)
    user.refresh_from_db()
    return user


def scim_delete_user(*, user, request=None) -> Departure:
    """DELETE /Users/<id>: the directory is done with the person. Deactivated, not deleted:
    incidents, postmortems and history keep naming them."""
    return deactivate_user(user=user, source=Source.SCIM, request=request)


def _resync_members(users: Iterable, request=None) -> None:
    for member in users:
        names = list(member.directory_groups.values_list("display_name", flat=True))
        sync_groups(user=member, groups=names, source=Source.SCIM, request=request)


@transaction.atomic
def scim_save_group(
    *,
    group: DirectoryGroup,
    display_name: str | None,
    external_id: str | None,
    members: Iterable | None = None,
    add: Iterable = (),
    remove: Iterable = (),
    request=None,
) -> DirectoryGroup:
    """Create or update a directory group and its members; every member whose groups changed
    gets their roles and teams re-synced."""
    creating = group.pk is None
    if not creating:
        group = DirectoryGroup.objects.select_for_update().get(pk=group.pk)
    before_name = group.display_name
    if display_name is not None:
        display_name = display_name.strip()
        if not display_name:
            raise InvalidInput("displayName is required.", field="displayName")
        if DirectoryGroup.objects.filter(display_name=display_name).exclude(pk=group.pk).exists():
            raise Conflict(f"A group named {display_name!r} exists already.")
        group.display_name = display_name
    if external_id is not None:
        group.external_id = external_id
    group.save()
    current = set(group.members.all())
    wanted = set(members) if members is not None else set(current)
    wanted |= set(add)
    wanted -= set(remove)
    added, removed = wanted - current, current - wanted
    if added:
        group.members.add(*added)
    if removed:
        group.members.remove(*removed)
    if creating or added or removed or before_name != group.display_name:
        record(
            kind=Kind.GROUP_CHANGED,
            source=Source.SCIM,
            request=request,
            summary=f"group {group.display_name}: +{len(added)} -{len(removed)} member(s)"
            + (" (created)" if creating else ""),
            changes={
                "group": group.display_name,
                "added": sorted(u.get_username() for u in added),
                "removed": sorted(u.get_username() for u in removed),
                **(
                    {"display_name": [before_name, group.display_name]}
                    if before_name != group.display_name
                    else {}
                ),
            },
        )
    affected = added | removed
    if before_name != group.display_name:
        affected |= wanted
    _resync_members(affected, request=request)
    return group


@transaction.atomic
def scim_delete_group(*, group: DirectoryGroup, request=None) -> None:
    members = list(group.members.all())
    name = group.display_name
    group.delete()
    record(
        kind=Kind.GROUP_CHANGED,
        source=Source.SCIM,
        request=request,
        summary=f"group {name} deleted ({len(members)} member(s))",
        changes={"group": name, "deleted": True, "removed": sorted(u.get_username() for u in members)},
    )
    _resync_members(members, request=request)


# --- SCIM tokens ----------------------------------------------------------------------------------


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@transaction.atomic
def create_scim_token(*, name: str, actor=None) -> tuple[ScimToken, str]:
    """A new SCIM bearer token; returns the row and the key, shown once and never stored."""
    if actor is not None and not (actor.is_active and actor.is_superuser):
        raise NotAllowed("Only superusers create SCIM tokens.")
    name = (name or "").strip()
    if not name:
        raise InvalidInput("Name the token after the directory that uses it.", field="name")
    if len(name) > 100:
        raise InvalidInput("Keep the name to 100 characters.", field="name")
    key = ScimToken.new_key()
    token = ScimToken.objects.create(name=name, prefix=key[:12], digest=_digest(key), created_by=actor)
    record(kind=Kind.TOKEN_CREATED, source=Source.ADMIN if actor else Source.SYSTEM, actor=actor,
           summary=f"SCIM token {token} created")  # fmt: skip
    return token, key


@transaction.atomic
def revoke_scim_token(*, token: ScimToken, actor=None) -> ScimToken:
    if actor is not None and not (actor.is_active and actor.is_superuser):
        raise NotAllowed("Only superusers revoke SCIM tokens.")
    now = timezone.now()
    if not ScimToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=now):
        raise Conflict("This SCIM token was already revoked.")
    token.revoked_at = now
    record(kind=Kind.TOKEN_REVOKED, source=Source.ADMIN if actor else Source.SYSTEM, actor=actor,
           summary=f"SCIM token {token} revoked")  # fmt: skip
    return token


def authenticate_scim_token(*, key: str) -> ScimToken | None:
    if not key or len(key) > 200:
        return None
    digest = _digest(key)
    token = ScimToken.objects.filter(digest=digest, revoked_at__isnull=True).first()
    if token is None or not compare_digest(token.digest, digest):
        return None
    now = timezone.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ScimToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token
