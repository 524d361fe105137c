"""Views of the /api/ prefix itself."""

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt  # like every DRF view: a token client's POST to a wrong URL is a 404, not a CSRF 403
def not_found(request, *args, **kwargs):
    """Anything under /api/ that no route matches: DRF's 404 body, in JSON, for every method
    (and whatever DEBUG says - Django's own 404 page is HTML)."""
    return JsonResponse({"detail": "Not found."}, status=404)
