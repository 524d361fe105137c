"""The published operating model (HTML and Markdown) and the one-click check-in page."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from operations import export, permissions, selectors, services, tokens
from operations.models import CheckIn, Responsibility
from opsportal.errors import ServiceError


def _require_reader(user) -> None:
    if not permissions.can_read(user):
        raise PermissionDenied("The operating model is for staff.")


@login_required
def operating_model(request):
    """Who owns which duty, how often, and how healthy it is; severities and SLAs; each
    team's on-call schedules and escalation policies; the release process (readiness templates,
    signers, the CI gate); the support escalation path; the gaps. Generated from live data."""
    _require_reader(request.user)
    model = selectors.operating_model()
    return render(
        request,
        "operations/operating_model.html",
        {"model": model, "can_manage": permissions.can_manage(request.user)},
    )


@login_required
def operating_model_markdown(request):
    _require_reader(request.user)
    model = selectors.operating_model()
    response = HttpResponse(export.render(model), content_type="text/markdown; charset=utf-8")
    stamp = timezone.localtime(model.generated_at).strftime("%Y-%m-%d")
    response["Content-Disposition"] = f'attachment; filename="operating-model-{stamp}.md"'
    return response


@login_required
@require_http_methods(["GET", "POST"])
def check_in_link(request, token):
    """GET shows what will be recorded and a confirm button; only the POST records it."""
    try:
        duty_id, due_at = tokens.read_token(token)
    except signing.SignatureExpired:
        return _link_problem(
            request, "This check-in link has expired. Open the duty to check it in.", status=410
        )
    except signing.BadSignature:
        return _link_problem(request, "This check-in link is not valid.", status=400)
    duty = Responsibility.objects.select_related("team", "owner", "backup").filter(pk=duty_id).first()
    if duty is None:
        return _link_problem(request, "This duty no longer exists.", status=404)
    if not permissions.can_check_in(request.user, duty):
        raise PermissionDenied("Only the owner, the backup or a manager may check this duty in.")
    already = duty.next_due_at > due_at
    if request.method == "POST" and not already:
        try:
            services.check_in(
                responsibility=duty,
                actor=request.user,
                note=request.POST.get("note", ""),
                evidence_url=request.POST.get("evidence_url", ""),
                via=CheckIn.Via.LINK,
                expected_due_at=due_at,
            )
        except ServiceError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"Recorded: {duty.title} is done for this cycle.")
        return redirect("operations:check-in", token=token)
    duty.refresh_from_db()
    return render(
        request,
        "operations/check_in.html",
        {
            "duty": duty,
            "due_at": due_at,
            "due_local": due_at.astimezone(duty.schedule().zone),
            "already": duty.next_due_at > due_at,
            "next_local": duty.next_due_at.astimezone(duty.schedule().zone),
        },
    )


def _link_problem(request, text: str, *, status: int):
    return render(request, "operations/check_in.html", {"problem": text}, status=status)
