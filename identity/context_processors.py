from django.conf import settings

from identity import oidc


def sso(request):
    """What the sign-in pages need: is single sign-on on, is password sign-in off."""
    local = request.GET.get("local") == "1" if request is not None else False
    return {
        "SSO_ENABLED": oidc.enabled(),
        "SSO_BUTTON_LABEL": settings.OIDC_BUTTON_LABEL,
        "SSO_ONLY": settings.SSO_ONLY,
        "SSO_SHOW_PASSWORD_FORM": not settings.SSO_ONLY or local,
    }
