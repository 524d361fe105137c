"""Inbound endpoints: Slack (slash command, interactivity, events) and Mattermost (slash
command, button actions). Each verifies the request first (``chat.signing``), answers within
the workspace's 3 seconds, and defers real work to ``tasks.handle_inbound`` - except the two
things that cannot wait: opening the declare modal (a ``trigger_id`` lives 3 seconds) and
answering the modal's submission (its field errors must be in the HTTP answer)."""

from __future__ import annotations

import hashlib
import json
import logging
import uuid

from django.db import transaction
from django.http import HttpResponse, JsonResponse, QueryDict
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from chat import conf, handlers, signing
from chat.models import InboundRequest, Provider
from chat.slack import ApiFailed

log = logging.getLogger(__name__)


def _refused(provider: str, request, exc: Exception) -> JsonResponse:
    log.warning(
        "chat: refused %s request to %s from %s: %s",
        provider,
        request.path,
        request.META.get("REMOTE_ADDR", "?"),
        exc,
    )
    return JsonResponse({"detail": "Request not verified."}, status=401)


def _defer(row: InboundRequest) -> None:
    from chat import tasks

    pk = row.pk

    def publish() -> None:
        try:
            tasks.handle_inbound.apply_async(args=[pk])
        except Exception:
            log.exception("chat: could not enqueue inbound request %s; chat.maintain will run it", pk)

    transaction.on_commit(publish)


def _done(row: InboundRequest, outcome: str) -> None:
    row.processed_at = timezone.now()
    row.outcome = outcome[:300]
    row.save(update_fields=["processed_at", "outcome"])


def _ephemeral(text: str) -> JsonResponse:
    return JsonResponse({"response_type": "ephemeral", "text": text})


def _slack_verified(request) -> str:
    if not conf.enabled(Provider.SLACK):
        raise signing.Refused("Slack is not the configured chat provider")
    return signing.verify_slack(request.headers, request.body)


@csrf_exempt
@require_POST
def slack_commands(request):
    try:
        digest = _slack_verified(request)
        form = QueryDict(request.body)
        payload = {key: form.get(key, "") for key in form if key != "token"}  # deprecated token: not kept
        row = signing.remember(
            provider=Provider.SLACK, digest=digest, kind=InboundRequest.Kind.COMMAND, payload=payload
        )
    except signing.Refused as exc:
        return _refused("Slack", request, exc)
    verb, _, rest = payload.get("text", "").strip().partition(" ")
    verb = verb.lower()
    if verb in ("", "help"):
        _done(row, "help")
        return _ephemeral(handlers.help_text())
    if verb == "declare":
        from chat import slack

        try:
            slack.call(
                "views.open",
                {"trigger_id": payload.get("trigger_id", ""), "view": handlers.declare_modal(rest.strip())},
                timeout=2.5,
            )
        except ApiFailed as exc:
            _done(row, f"modal not opened: {exc.result.error}")
            return _ephemeral(
                f"Could not open the declare form ({exc.result.error}); declare in the portal instead."
            )
        _done(row, "declare modal opened")
        return HttpResponse(status=200)
    _defer(row)
    return HttpResponse(status=200)


@csrf_exempt
@require_POST
def slack_interactivity(request):
    try:
        digest = _slack_verified(request)
        form = QueryDict(request.body)
        payload = json.loads(form.get("payload") or "{}")
        if not isinstance(payload, dict):
            raise ValueError("payload is not an object")
        row = signing.remember(
            provider=Provider.SLACK, digest=digest, kind=InboundRequest.Kind.INTERACTION, payload=payload
        )
    except signing.Refused as exc:
        return _refused("Slack", request, exc)
    except ValueError:
        return JsonResponse({"detail": "payload is not JSON"}, status=400)
    kind = payload.get("type")
    if kind == "view_submission" and (payload.get("view") or {}).get("callback_id") == "declare":
        from chat import workspace

        try:
            answer = handlers.declare_submission(workspace.SlackWorkspace(timeout=2.0), payload)
        except ApiFailed as exc:
            answer = {
                "response_action": "errors",
                "errors": {"title": f"Slack did not answer ({exc.result.error})."},
            }
        _done(row, json.dumps(answer)[:300])
        return JsonResponse(answer)
    if kind == "block_actions":
        actions = payload.get("actions") or []
        if not actions or actions[0].get("action_id") == "open_link":
            _done(row, "link")
            return HttpResponse(status=200)
    if kind in ("block_actions", "message_action"):
        _defer(row)
    else:
        _done(row, f"ignored {kind}")
    return HttpResponse(status=200)


@csrf_exempt
@require_POST
def slack_events(request):
    try:
        digest = _slack_verified(request)
        payload = json.loads(request.body or b"{}")
        if not isinstance(payload, dict):
            raise ValueError("not an object")
    except signing.Refused as exc:
        return _refused("Slack", request, exc)
    except ValueError:
        return JsonResponse({"detail": "body is not JSON"}, status=400)
    if payload.get("type") == "url_verification":
        return JsonResponse({"challenge": str(payload.get("challenge", ""))})
    event = payload.get("event") or {}
    wanted = (
        payload.get("type") == "event_callback"
        and event.get("type") == "reaction_added"
        and event.get("reaction") == conf.timeline_emoji()
        and (event.get("item") or {}).get("type") == "message"
    )
    if not wanted:
        return HttpResponse(status=200)
    try:
        row = signing.remember(
            provider=Provider.SLACK, digest=digest, kind=InboundRequest.Kind.EVENT, payload=payload
        )
    except signing.Refused as exc:
        return _refused("Slack", request, exc)
    _defer(row)
    return HttpResponse(status=200)


@csrf_exempt
@require_POST
def mattermost_command(request):
    form = QueryDict(request.body)
    payload = {key: form.get(key, "") for key in form}
    try:
        if not conf.enabled(Provider.MATTERMOST):
            raise signing.Refused("Mattermost is not the configured chat provider")
        signing.verify_mattermost_token(payload.get("token", ""))
        payload.pop("token", None)
        unique = payload.get("trigger_id") or hashlib.sha256(request.body).hexdigest()
        digest = hashlib.sha256(f"mattermost:{unique}".encode()).hexdigest()
        row = signing.remember(
            provider=Provider.MATTERMOST, digest=digest, kind=InboundRequest.Kind.COMMAND, payload=payload
        )
    except signing.Refused as exc:
        return _refused("Mattermost", request, exc)
    if payload.get("text", "").strip().lower() in ("", "help"):
        _done(row, "help")
        return _ephemeral(handlers.help_text())
    _defer(row)
    return HttpResponse(status=200)


@csrf_exempt
@require_POST
def mattermost_action(request):
    try:
        if not conf.enabled(Provider.MATTERMOST):
            raise signing.Refused("Mattermost is not the configured chat provider")
        payload = json.loads(request.body or b"{}")
        if not isinstance(payload, dict) or not isinstance(payload.get("context"), dict):
            raise signing.Refused("no button context")
        signing.verify_button(payload["context"], str(payload.get("user_id", "")))
    except ValueError:
        return JsonResponse({"detail": "body is not JSON"}, status=400)
    except signing.Refused as exc:
        return _refused("Mattermost", request, exc)
    payload["type"] = "mattermost_action"
    digest = hashlib.sha256(f"mattermost-action:{uuid.uuid4()}".encode()).hexdigest()
    row = signing.remember(
        provider=Provider.MATTERMOST, digest=digest, kind=InboundRequest.Kind.INTERACTION, payload=payload
    )
    _defer(row)
    return JsonResponse({})
