from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils import timezone

from accounts import services
from accounts.forms import ProfileForm
from accounts.permissions import is_support
from opsportal.errors import InvalidInput


@login_required
def home(request):
    """Land each person on their own pages: staff in the admin, support on their
    escalations page, everyone else on the service directory."""
    if request.user.is_staff:
        return redirect("admin:index")
    if is_support(request.user):
        return redirect("escalations:home")
    return redirect("catalog:directory")


@login_required
def profile(request):
    """The signed-in person's own profile: name and the time zone every page shows times in."""
    user = request.user
    form = ProfileForm(
        request.POST or None,
        initial={"first_name": user.first_name, "last_name": user.last_name, "time_zone": user.time_zone},
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.update_own_profile(user=user, **form.cleaned_data)
        except InvalidInput as exc:
            form.add_error(exc.field if exc.field in form.fields else None, str(exc))
        else:
            messages.success(request, f"Saved. Times are now shown in {user.time_zone}.")
            return redirect("profile")
    return render(request, "accounts/profile.html", {"form": form, "now": timezone.now()})
