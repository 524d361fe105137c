"""``{{ user|uses_support_pages }}``: the base template's "Support" link for people whose
home is /support/ (Support members without admin access)."""

from django import template

from escalations import permissions

register = template.Library()


@register.filter
def uses_support_pages(user) -> bool:
    return permissions.can_file(user) and not getattr(user, "is_staff", False)
