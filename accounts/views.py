from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect


@login_required
def home(request):
    """Land each person on their own pages: staff in the admin, everyone else on the
    pages made for them (the service directory until the support pages exist)."""
    if request.user.is_staff:
        return redirect("admin:index")
    return redirect("catalog:directory")
