from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect

from accounts.permissions import is_support


@login_required
def home(request):
    """Land each person on their own pages: staff in the admin, support on their
    escalations page, everyone else on the service directory."""
    if request.user.is_staff:
        return redirect("admin:index")
    if is_support(request.user):
        return redirect("escalations:home")
    return redirect("catalog:directory")
