"""Reads for notifications (bounded, indexed)."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from notifications.models import ContactMethod, Notification


def managed_user_ids(*, manager) -> QuerySet:
    """Ids of members of the teams ``manager`` manages (a subquery, not a list)."""
    from catalog.models import Team

    return Team.members.through.objects.filter(team__manager=manager).values("user_id")


def manages_user(*, manager, user_id: int) -> bool:
    return managed_user_ids(manager=manager).filter(user_id=user_id).exists()


def visible_contact_methods(*, user) -> QuerySet[ContactMethod]:
    qs = ContactMethod.objects.select_related("user")
    if user.is_superuser:
        return qs
    return qs.filter(Q(user=user) | Q(user__in=managed_user_ids(manager=user)))


def visible_notifications(*, user) -> QuerySet[Notification]:
    """Managers with the view permission see the whole log; others their own messages."""
    qs = Notification.objects.all()
    if user.is_superuser or user.has_perm("notifications.change_notification"):
        return qs
    return qs.filter(recipient=user)
