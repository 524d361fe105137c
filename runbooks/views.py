"""Read-only runbook pages for staff (/runbooks/, /runbooks/<slug>/) and the two buttons
responders use from them (mark reviewed, record a test). Support staff get 403."""

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from catalog.models import Service, Team
from opsportal.errors import ServiceError
from runbooks import markdown, permissions, selectors, services
from runbooks.badges import freshness_badge
from runbooks.forms import RecordTestForm, ReviewForm, SearchForm
from runbooks.models import Runbook

PAGE_SIZE = 50


def _form_problem(form) -> str:
    """What is wrong with the posted form, field by field (not a guess at the cause)."""
    return " ".join(
        f"{form.fields[name].label}: {error}" if name in form.fields else error
        for name, errors in form.errors.items()
        for error in errors
    )


def staff_only(view):
    @wraps(view)
    @login_required
    def wrapper(request, *args, **kwargs):
        if not permissions.can_read(request.user):
            raise PermissionDenied("Runbooks are for responders and managers.")
        return view(request, *args, **kwargs)

    return wrapper


@staff_only
def index(request):
    form = SearchForm(request.GET or None)
    qs = selectors.listing_queryset()
    query = ""
    service = team = None
    if form.is_valid():
        data = form.cleaned_data
        query = data["q"]
        if data["service"]:
            service = Service.objects.filter(slug=data["service"]).first()
            qs = qs.filter(services=service) if service else qs.none()
        if data["team"]:
            team = Team.objects.filter(slug=data["team"]).first()
            qs = qs.filter(owner_team=team) if team else qs.none()
        if data["freshness"]:
            qs = qs.filter(selectors.freshness_q(data["freshness"]))
    results = selectors.search(query, queryset=qs)
    page = Paginator(results, PAGE_SIZE).get_page(request.GET.get("page"))
    now = timezone.now()
    rows = [(rb, freshness_badge(rb, now)) for rb in page.object_list]
    return render(
        request,
        "runbooks/index.html",
        {"form": form, "query": query, "page": page, "rows": rows, "service": service, "team": team},
    )


@staff_only
def detail(request, slug):
    runbook = get_object_or_404(selectors.base_queryset(), slug=slug)
    sections = [
        ("diagnostic", "Diagnostic steps", markdown.render(runbook.diagnostic_steps)),
        ("mitigation", "Mitigation", markdown.render(runbook.mitigation)),
        ("rollback", "Rollback", markdown.render(runbook.rollback)),
        ("escalation", "Escalation", markdown.render(runbook.escalation_notes)),
        ("background", "Background", markdown.render(runbook.body)),
    ]
    return render(
        request,
        "runbooks/detail.html",
        {
            "runbook": runbook,
            "badge": freshness_badge(runbook),
            "scenarios": [line.strip() for line in runbook.scenarios.splitlines() if line.strip()],
            "sections": [s for s in sections if s[2]],
            "can_edit": permissions.can_edit(request.user),
            "review_form": ReviewForm(),
            "test_form": RecordTestForm(),
        },
    )


@require_POST
@staff_only
def review(request, slug):
    runbook = get_object_or_404(Runbook, slug=slug)
    form = ReviewForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_problem(form))
        return redirect(runbook)
    try:
        services.mark_reviewed(runbook=runbook, actor=request.user, note=form.cleaned_data["note"])
    except ServiceError as exc:
        if exc.status_code == 403:
            raise PermissionDenied(exc.message) from exc
        messages.error(request, exc.message)
    else:
        messages.success(request, "Marked reviewed: the next review is due in "
                         f"{runbook.review_interval_days} days.")  # fmt: skip
    return redirect(runbook)


@require_POST
@staff_only
def record_test(request, slug):
    runbook = get_object_or_404(Runbook, slug=slug)
    form = RecordTestForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_problem(form))
        return redirect(runbook)
    try:
        services.record_test(runbook=runbook, actor=request.user, **form.cleaned_data)
    except ServiceError as exc:
        if exc.status_code == 403:
            raise PermissionDenied(exc.message) from exc
        messages.error(request, exc.message)
    else:
        messages.success(request, "Test recorded with its evidence.")
    return redirect(runbook)
