from django.http import HttpResponse
from django.urls import path

from opsportal.urls import urlpatterns as portal_urlpatterns


def trivial(request):
    """Baseline: the cheapest Django view (same middleware stack as the ping endpoint)."""
    return HttpResponse("OK", content_type="text/plain")


urlpatterns = [path("bench/trivial", trivial), *portal_urlpatterns]
