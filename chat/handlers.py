"""What a slash command, a button click, a modal submission or a shortcut does.

Adapters only: each handler maps the chat user to a portal account (verified e-mail,
``selectors.portal_user_for``), asks the owning app's permissions, and calls the owning
app's service as that person. An unmapped user, a user without the role, or a refused
transition gets an ephemeral explanation and nothing changes. Answers go back through the
outbox step ``respond`` (Slack's ``response_url``) so a slow or failing workspace never
holds up the portal.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime

from django.conf import settings
from django.db import IntegrityError, transaction

from catalog.models import Service, Team
from chat import conf, outbox, selectors
from chat.models import InboundRequest, Provider, TimelineLink
from chat.slack import ApiFailed
from incidents import permissions as incident_permissions
from incidents import services as incident_services
from incidents.models import Incident, Severity, TimelineEvent
from oncall import permissions as oncall_permissions
from oncall import selectors as oncall_selectors
from oncall import services as oncall_services
from oncall.models import EscalationPolicy, Page, Schedule
from opsportal.errors import ServiceError
from opsportal.links import absolute_url

log = logging.getLogger(__name__)

MENTION = re.compile(r"<@([A-Za-z0-9]+)(?:\|[^>]*)?>|^@?([A-Za-z0-9._-]+)$")


def unmapped_text() -> str:
    return (
        f"I could not match your chat account to a {settings.SITE_NAME} account: the e-mail address of "
        f"your chat profile must be verified and be the one of your {settings.SITE_NAME} account. "
        "Nothing was done."
    )


def help_text() -> str:
    c = conf.command_name()
    return "\n".join(
        [
            f"`{c} declare <title>` open the declare form (Mattermost: `{c} declare sev<N> <service> <title>`)",
            f"`{c} oncall [team]` who is on call now and next (only you see the answer)",
            "In an incident channel:",
            f"`{c} update <text>` post an internal status update",
            f"`{c} ack` · `{c} mitigated` · `{c} resolve`",
            f"`{c} severity <1-4>` · `{c} commander @person` · `{c} page <team>`",
        ]
    )


class Reply(Exception):
    """Stop and tell the person ``text`` (ephemeral)."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


# --- deferred processing (tasks.handle_inbound) ----------------------------------------------


def process(request_id: int) -> str:
    """Run one stored inbound request once (a redelivered task finds it processed)."""
    with transaction.atomic():
        row = (
            InboundRequest.objects.select_for_update()
            .filter(pk=request_id, processed_at__isnull=True)
            .first()
        )
        if row is None:
            return "skipped"
        ws = _workspace(row.provider)
        try:
            if ws is None:
                raise Reply("")  # chat was switched off since: nothing to do, nobody to answer
            with transaction.atomic():
                text = _dispatch(ws, row)
        except Reply as reply:
            text = reply.text
        except ServiceError as exc:
            text = f"Not done: {exc.message}"
        except ApiFailed as exc:
            text = f"Not done: the chat workspace did not answer ({exc.result.error})."
        except Exception:  # a bug must not leave the request to be retried every minute forever
            log.exception("chat: inbound request %s failed", row.pk)
            text = "Not done: something went wrong on our side; it has been logged."
        row.processed_at = datetime.now(UTC)
        row.outcome = text[:300]
        row.save(update_fields=["processed_at", "outcome"])
        if text and ws is not None:
            _answer(row, text)
    return row.outcome


def _workspace(provider: str):
    from chat import workspace

    return workspace.current(provider)


def _answer(row: InboundRequest, text: str) -> None:
    p = row.payload
    url = p.get("response_url", "")
    if row.provider == Provider.SLACK and not url:
        return
    outbox.enqueue(
        "respond",
        f"respond:{row.pk}",
        provider=row.provider,
        subject="Answer in chat",
        response_url=url,
        text=text,
        user=_user_id(row),
        channel=_channel_id(row),
    )


def _user_id(row: InboundRequest) -> str:
    p = row.payload
    return str(
        p.get("user_id") or (p.get("user") or {}).get("id") or (p.get("event") or {}).get("user") or ""
    )


def _channel_id(row: InboundRequest) -> str:
    p = row.payload
    return str(p.get("channel_id") or (p.get("channel") or {}).get("id") or "")


def _dispatch(ws, row: InboundRequest) -> str:
    p = row.payload
    if row.kind == InboundRequest.Kind.COMMAND:
        return command(ws, user_id=_user_id(row), channel_id=_channel_id(row), text=p.get("text", ""))
    if row.kind == InboundRequest.Kind.EVENT:
        event = p.get("event") or {}
        item = event.get("item") or {}
        return add_to_timeline(
            ws,
            clicker=event.get("user", ""),
            channel_id=item.get("channel", ""),
            ts=item.get("ts", ""),
            message=None,
        )
    kind = p.get("type")
    if kind == "block_actions":
        action = (p.get("actions") or [{}])[0]
        return page_action(
            ws, user_id=_user_id(row), action=action.get("action_id", ""), value=action.get("value", "")
        )
    if kind == "message_action":
        return add_to_timeline(
            ws,
            clicker=_user_id(row),
            channel_id=_channel_id(row),
            ts=(p.get("message") or {}).get("ts", ""),
            message=p.get("message") or {},
        )
    if kind == "mattermost_action":
        context = p.get("context") or {}
        return page_action(
            ws, user_id=_user_id(row), action=context.get("action", ""), value=str(context.get("page", ""))
        )
    return ""


def _actor(ws, external_id: str):
    user = selectors.portal_user_for(ws, external_id) if external_id else None
    if user is None:
        raise Reply(unmapped_text())
    return user


# --- slash command ------------------------------------------------------------------------------


def command(ws, *, user_id: str, channel_id: str, text: str) -> str:
    verb, _, rest = (text or "").strip().partition(" ")
    verb, rest = verb.lower(), rest.strip()
    if verb in ("", "help"):
        return help_text()
    actor = _actor(ws, user_id)
    if verb == "oncall":
        return oncall_answer(actor, rest, channel_id=channel_id, provider=ws.provider)
    if verb == "declare":
        return declare_inline(actor, rest)
    incident = selectors.incident_for_channel(ws.provider, channel_id)
    if incident is None:
        raise Reply(f"`{conf.command_name()} {verb}` works inside an incident channel.")
    if verb == "update":
        if not rest:
            raise Reply(f"Say what changed: `{conf.command_name()} update <text>`.")
        incident_services.post_update(incident=incident, actor=actor, audience="internal", text=rest)
        return f"Update posted to {incident.reference}."
    if verb in ("ack", "acknowledge"):
        incident_services.acknowledge(incident=incident, actor=actor)
        return f"{incident.reference} acknowledged."
    if verb in ("mitigated", "mitigate"):
        incident_services.mitigate(incident=incident, actor=actor, note=rest)
        return f"{incident.reference} marked mitigated."
    if verb == "resolve":
        incident_services.resolve(incident=incident, actor=actor, note=rest)
        return f"{incident.reference} resolved."
    if verb in ("severity", "sev"):
        level = re.sub(r"(?i)^sev-?", "", rest.split(" ")[0] if rest else "")
        if not level.isdigit():
            raise Reply(f"Give a severity level: `{conf.command_name()} severity 2`.")
        incident_services.change_severity(incident=incident, actor=actor, severity=int(level))
        return f"{incident.reference} is now SEV-{level}."
    if verb == "commander":
        person = _mentioned_user(ws, rest)
        incident_services.assign_role(incident=incident, actor=actor, role="commander", user=person)
        return f"{person} is now incident commander of {incident.reference}."
    if verb == "page":
        return page_team(actor, incident, rest)
    raise Reply(f"Unknown command `{verb}`.\n{help_text()}")


def _mentioned_user(ws, text: str):
    match = MENTION.match((text or "").strip())
    if not match:
        raise Reply("Name the person with an @-mention.")
    if match.group(1):
        person = selectors.portal_user_for(ws, match.group(1))
    else:  # Mattermost sends @username as typed
        person = _mattermost_username(ws, match.group(2))
    if person is None:
        raise Reply("That person has no matching portal account (verified e-mail).")
    return person


def _mattermost_username(ws, username: str):
    from chat import mattermost

    if ws.provider != Provider.MATTERMOST:
        return None
    user = mattermost.call("GET", f"users/username/{username}")
    return selectors.portal_user_for(ws, user["id"]) if user else None


def page_team(actor, incident: Incident, name: str):
    if not oncall_permissions.can_open_page(actor):
        raise Reply("You may not page on-call.")
    team = (
        Team.objects.filter(slug__iexact=name.strip()).first()
        or Team.objects.filter(name__iexact=name.strip()).first()
    )
    if team is None:
        raise Reply(f"No team called {name!r}.")
    policy = EscalationPolicy.objects.filter(team=team, is_team_default=True).first()
    if policy is None:
        raise Reply(f"{team.name} has no default escalation policy.")
    oncall_services.open_page(
        title=f"{incident.reference} {incident.title}",
        summary=f"Paged from the incident channel by {actor}.",
        url=absolute_url(incident.get_absolute_url()),
        policy=policy,
        subject=incident,
        dedup_key=f"chat:{incident.pk}:team:{team.pk}",
    )
    return f"Paged {team.name} on-call for {incident.reference}."


def oncall_answer(actor, team_name: str, *, channel_id: str, provider: str) -> str:
    if not actor.has_perm("oncall.view_schedule"):
        raise Reply("You may not see on-call schedules.")
    schedules = Schedule.objects.select_related("team").order_by("team__name", "name")
    if team_name:
        team = (
            Team.objects.filter(slug__iexact=team_name).first()
            or Team.objects.filter(name__iexact=team_name).first()
        )
        if team is None:
            raise Reply(f"No team called {team_name!r}.")
        schedules = schedules.filter(team=team)
    else:
        incident = selectors.incident_for_channel(provider, channel_id)
        if incident is not None and incident.owning_team_id:
            schedules = schedules.filter(team_id=incident.owning_team_id)
    schedules = list(schedules[:20])
    if not schedules:
        return "No on-call schedules."
    now = oncall_selectors.on_call([s.pk for s in schedules], with_next=True)
    lines = []
    for schedule in schedules:
        who = now.get(schedule.pk)
        current = f"{who.user} until {who.shift.end:%a %H:%M} UTC" if who and who.user else "nobody"
        upcoming = (
            f"{who.next_user} from {who.next_shift.start:%a %H:%M} UTC" if who and who.next_user else "-"
        )
        lines.append(f"*{schedule.team.name} · {schedule.name}*: now {current}; next {upcoming}")
    return "\n".join(lines)


def declare_inline(actor, text: str) -> str:
    """Mattermost (no modal): ``declare sev2 checkout-api Checkout is down``."""
    parts = text.split()
    if len(parts) < 3 or not re.fullmatch(r"(?i)sev-?\d", parts[0]):
        raise Reply(f"`{conf.command_name()} declare sev<N> <service> <title>`")
    service = Service.objects.filter(slug__iexact=parts[1]).first()
    if service is None:
        raise Reply(f"No service called {parts[1]!r}.")
    incident = incident_services.declare_incident(
        title=" ".join(parts[2:]), severity=int(parts[0][-1]), services=[service], actor=actor
    )
    return f"Declared {incident.reference}: {absolute_url(incident.get_absolute_url())}"


# --- modal (Slack) --------------------------------------------------------------------------------


def declare_modal(title: str = "") -> dict:
    severities = list(Severity.objects.order_by("level")[:10])
    services = list(Service.objects.order_by("name")[:100])
    severity_options = [
        {
            "text": {"type": "plain_text", "text": s.label[:75]},
            "description": {"type": "plain_text", "text": (s.description or s.name)[:75]},
            "value": str(s.level),
        }
        for s in severities
    ]
    guide = "\n".join(f"*{s.label}* {s.description}" for s in severities)[:2900]
    return {
        "type": "modal",
        "callback_id": "declare",
        "title": {"type": "plain_text", "text": "Declare an incident"},
        "submit": {"type": "plain_text", "text": "Declare"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {
                "type": "input",
                "block_id": "title",
                "label": {"type": "plain_text", "text": "Title"},
                "element": {"type": "plain_text_input", "action_id": "value", "initial_value": title[:150]}
                if title
                else {"type": "plain_text_input", "action_id": "value"},
            },
            {
                "type": "input",
                "block_id": "severity",
                "label": {"type": "plain_text", "text": "Severity"},
                # radio buttons: each option shows its description (the triage guide)
                "element": {"type": "radio_buttons", "action_id": "value", "options": severity_options},
            },
            {"type": "context", "elements": [{"type": "mrkdwn", "text": guide or "No severities defined."}]},
            {
                "type": "input",
                "block_id": "services",
                "label": {"type": "plain_text", "text": "Affected services"},
                "element": {
                    "type": "multi_static_select",
                    "action_id": "value",
                    "options": [
                        {"text": {"type": "plain_text", "text": s.name[:75]}, "value": str(s.pk)}
                        for s in services
                    ],
                },
            },
            {
                "type": "input",
                "block_id": "impact",
                "optional": True,
                "label": {"type": "plain_text", "text": "Customer impact"},
                "element": {"type": "plain_text_input", "action_id": "value", "multiline": True},
            },
        ],
    }


FIELD_BLOCKS = {"title": "title", "severity": "severity", "services": "services", "customer_impact": "impact"}


def declare_submission(ws, payload: dict) -> dict:
    """Answer a ``view_submission`` (within Slack's 3 seconds): ``clear`` or field errors."""
    values = ((payload.get("view") or {}).get("state") or {}).get("values") or {}

    def value(block: str):
        return (values.get(block) or {}).get("value") or {}

    actor = selectors.portal_user_for(ws, (payload.get("user") or {}).get("id", ""))
    if actor is None:
        return {"response_action": "errors", "errors": {"title": unmapped_text()[:150]}}
    if not incident_permissions.can_respond(actor):
        return {
            "response_action": "errors",
            "errors": {"title": "Only responders and managers declare incidents."},
        }
    title = value("title").get("value") or ""
    severity = (value("severity").get("selected_option") or {}).get("value")
    service_ids = [o.get("value") for o in value("services").get("selected_options") or []]
    impact = value("impact").get("value") or ""
    if not severity or not str(severity).isdigit():
        return {"response_action": "errors", "errors": {"severity": "Pick a severity."}}
    services = list(Service.objects.filter(pk__in=[int(i) for i in service_ids if str(i).isdigit()]))
    try:
        incident_services.declare_incident(
            title=title, severity=int(severity), services=services, actor=actor, customer_impact=impact
        )
    except ServiceError as exc:
        block = FIELD_BLOCKS.get(exc.field or "", "title")
        return {"response_action": "errors", "errors": {block: exc.message[:150]}}
    return {"response_action": "clear"}


# --- page buttons -----------------------------------------------------------------------------


def page_action(ws, *, user_id: str, action: str, value: str) -> str:
    if action not in ("page_ack", "page_resolve", "page_escalate") or not value.isdigit():
        return ""
    actor = _actor(ws, user_id)
    if not oncall_permissions.can_page(actor):
        raise Reply("You may not act on pages.")
    page = Page.objects.filter(pk=int(value)).first()
    if page is None:
        raise Reply("That page no longer exists.")
    if action == "page_ack":
        oncall_services.acknowledge_page(page=page, user=actor, via=ws.provider)
        return ""
    if action == "page_resolve":
        oncall_services.resolve_page(page=page, user=actor, reason=f"Resolved from {ws.provider}.")
        return ""
    if page.status != Page.Status.TRIGGERED or not oncall_services.advance_page(
        page_id=page.pk, step_token=page.step_token
    ):
        raise Reply("Only a page that is still calling people can be escalated.")
    return "Escalated to the next level."


# --- timeline ---------------------------------------------------------------------------------


def _message_text(ws, channel_id: str, ts: str) -> dict:
    from chat import slack

    reply = slack.call(
        "conversations.history", {"channel": channel_id, "latest": ts, "inclusive": "true", "limit": 1}
    )
    messages = reply.data.get("messages") or []
    return messages[0] if messages and messages[0].get("ts") == ts else {}


def add_to_timeline(ws, *, clicker: str, channel_id: str, ts: str, message: dict | None) -> str:
    incident = selectors.incident_for_channel(ws.provider, channel_id)
    if incident is None:
        raise Reply("Only messages in an incident channel can be added to its timeline.")
    actor = _actor(ws, clicker)
    if not incident_permissions.can_respond(actor):
        raise Reply("Only responders and managers add to incident timelines.")
    if message is None:
        message = _message_text(ws, channel_id, ts)
    text = (message.get("text") or "").strip()
    if not text or not ts:
        raise Reply("That message has no text to add.")
    try:
        when = datetime.fromtimestamp(float(ts), UTC)
    except (TypeError, ValueError):
        raise Reply("That message has no usable time.") from None
    author_id = message.get("user") or ""
    author = selectors.portal_user_for(ws, author_id) if author_id else None
    try:
        with transaction.atomic():
            TimelineLink.objects.create(incident=incident, provider=ws.provider, channel_id=channel_id, ts=ts)
    except IntegrityError:
        return "That message is already on the timeline."
    who = str(author) if author else f"chat user {author_id or 'unknown'}"
    incident_services.add_timeline_event(
        incident=incident,
        kind=TimelineEvent.Kind.NOTE,
        text=f"{who} in chat: {text}"[:4000],
        actor=author,
        occurred_at=when,
        data={"source": ws.provider, "channel": channel_id, "ts": ts, "added_by": actor.pk},
    )
    return f"Added to the timeline of {incident.reference}."
