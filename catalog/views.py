from django.contrib.auth.decorators import login_required
from django.db.models import Prefetch
from django.shortcuts import render

from catalog.models import Service, Team


@login_required
def directory(request):
    """Who owns what: every team, its manager, channel and services. Read-only, for anyone
    signed in (support uses it to know where a customer problem belongs)."""
    teams = Team.objects.select_related("manager").prefetch_related(
        Prefetch("services", queryset=Service.objects.order_by("tier", "name"))
    )
    return render(request, "catalog/directory.html", {"teams": teams})
