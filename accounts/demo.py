"""Demo people: one login per role plus the team members who carry the pager."""

from django.contrib.auth.models import Group

from accounts import roles
from accounts.models import User

# username, first, last, role, time zone
PEOPLE = [
    ("maya", "Maya", "Chen", roles.MANAGERS, "Europe/Berlin"),
    ("omar", "Omar", "Haddad", roles.MANAGERS, "America/New_York"),
    ("lena", "Lena", "Novak", roles.MANAGERS, "Europe/Berlin"),
    ("noah", "Noah", "Williams", roles.MANAGERS, "Australia/Sydney"),
    ("grace", "Grace", "Okafor", roles.MANAGERS, "America/New_York"),
    ("ravi", "Ravi", "Iyer", roles.RESPONDERS, "Asia/Kolkata"),
    ("alice", "Alice", "Martin", roles.RESPONDERS, "Europe/Berlin"),
    ("bob", "Bob", "Schulz", roles.RESPONDERS, "Europe/Berlin"),
    ("carlos", "Carlos", "Ruiz", roles.RESPONDERS, "America/New_York"),
    ("dana", "Dana", "Levi", roles.RESPONDERS, "America/New_York"),
    ("erik", "Erik", "Lund", roles.RESPONDERS, "Europe/Berlin"),
    ("fatima", "Fatima", "Zahra", roles.RESPONDERS, "Asia/Kolkata"),
    ("george", "George", "Tan", roles.RESPONDERS, "Australia/Sydney"),
    ("hana", "Hana", "Sato", roles.RESPONDERS, "Australia/Sydney"),
    ("ivan", "Ivan", "Petrov", roles.RESPONDERS, "Europe/Berlin"),
    ("jun", "Jun", "Park", roles.RESPONDERS, "America/New_York"),
    ("kofi", "Kofi", "Mensah", roles.RESPONDERS, "Europe/Berlin"),
    ("sam", "Sam", "Rivera", roles.SUPPORT, "America/New_York"),
    ("tess", "Tess", "Moreau", roles.SUPPORT, "Europe/Berlin"),
    ("rita", "Rita", "Gomez", roles.RELEASE_LEADS, "Europe/Berlin"),
]

LOGINS = [
    ("admin", "superuser (everything)"),
    ("maya", "Engineering manager"),
    ("ravi", "Responder (on call)"),
    ("sam", "Support"),
    ("rita", "Release lead"),
]


def seed(ctx) -> str:
    groups = {g.name: g for g in Group.objects.filter(name__in=roles.ALL_ROLES)}
    ctx.users = {}
    admin, _ = User.objects.update_or_create(
        username="admin",
        defaults={"first_name": "Ada", "last_name": "Admin", "email": "admin@example.com",
                  "is_staff": True, "is_superuser": True},
    )  # fmt: skip
    admin.set_password(ctx.password)
    admin.save(update_fields=["password"])
    ctx.users["admin"] = admin
    for username, first, last, role, tz in PEOPLE:
        user, _ = User.objects.update_or_create(
            username=username,
            defaults={
                "first_name": first,
                "last_name": last,
                "email": f"{username}@example.com",
                "time_zone": tz,
                "is_staff": role in roles.STAFF_ROLES,
                "is_active": True,
            },
        )
        user.set_password(ctx.password)
        user.save(update_fields=["password"])
        user.groups.set([groups[role]])
        ctx.users[username] = user
    ctx.logins.extend(LOGINS)
    return f"{len(PEOPLE) + 1} people"
