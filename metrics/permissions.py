"""Who may see operational metrics: anyone who may read incidents (managers, responders,
release leads hold ``incidents.view_incident``). The app has no models of its own, so it
grants nothing; the dashboard's other panels each ask for their own model's view permission."""


def can_view_metrics(user) -> bool:
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return user.has_perm("incidents.view_incident")


def can_view(user, perm: str) -> bool:
    return bool(user and user.is_active and user.has_perm(perm))
