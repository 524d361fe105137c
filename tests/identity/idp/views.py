"""Test control endpoints (a shared secret in X-Control-Token): set up people, their groups and
the portal's client registration, and rotate the signing key."""

import json

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.http import HttpResponseForbidden, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider.models import Application
from oauth2_provider.settings import oauth2_settings

from tests.identity.idp.settings import new_private_key


def _guarded(view):
    @csrf_exempt
    def wrapper(request):
        if request.headers.get("X-Control-Token") != settings.CONTROL_TOKEN:
            return HttpResponseForbidden()
        return view(request, json.loads(request.body or b"{}"))

    return wrapper


@_guarded
def user(request, data):
    person, _ = User.objects.get_or_create(username=data["username"])
    person.email = data.get("email", "")
    person.first_name = data.get("first_name", "")
    person.last_name = data.get("last_name", "")
    password = data.get("password", "correct horse battery staple")
    if not person.check_password(password):  # a new hash would end the person's IdP session
        person.set_password(password)
    person.save()
    person.groups.set([Group.objects.get_or_create(name=n)[0] for n in data.get("groups", [])])
    return JsonResponse({"id": person.pk})


@_guarded
def app(request, data):
    application, _ = Application.objects.update_or_create(
        client_id=data["client_id"],
        defaults={
            "name": "Ops Portal",
            "client_type": Application.CLIENT_CONFIDENTIAL,
            "authorization_grant_type": Application.GRANT_AUTHORIZATION_CODE,
            "client_secret": data["client_secret"],
            "redirect_uris": " ".join(data["redirect_uris"]),
            "algorithm": Application.RS256_ALGORITHM,
            "skip_authorization": True,
        },
    )
    return JsonResponse({"id": application.pk})


@_guarded
def rotate(request, data):
    """A new active signing key; the previous one stays published as inactive."""
    old = oauth2_settings.OIDC_RSA_PRIVATE_KEY
    oauth2_settings.OIDC_RSA_PRIVATE_KEYS_INACTIVE = [old, *oauth2_settings.OIDC_RSA_PRIVATE_KEYS_INACTIVE]
    oauth2_settings.OIDC_RSA_PRIVATE_KEY = new_private_key()
    return JsonResponse({"active_keys": 1 + len(oauth2_settings.OIDC_RSA_PRIVATE_KEYS_INACTIVE)})
