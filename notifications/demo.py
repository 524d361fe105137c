"""Demo contact methods and a first message per manager (through the real outbox)."""

from notifications import services
from notifications.models import Channel, ContactMethod
from opsportal.links import absolute_url

# username, channel, label, destination, kinds (page, reminder, digest, update), enabled
METHODS = [
    ("maya", Channel.EMAIL, "Work e-mail", "", (True, True, True, True), True),
    ("maya", Channel.SLACK, "#sre-pager (set a real webhook URL)", "https://hooks.slack.com/services/TDEMO/BDEMO/demo", (True, False, False, True), False),
    ("ravi", Channel.EMAIL, "Work e-mail, no digests", "", (True, True, False, True), True),
    ("ravi", Channel.WEBHOOK, "Pager bridge (set a real URL)", "https://pager-bridge.example.com/opsportal", (True, False, False, False), False),
    ("omar", Channel.EMAIL, "Phone inbox for pages", "omar.pager@example.com", (True, False, False, False), True),
]  # fmt: skip

DEMO_WEBHOOK_SECRET = "demo-shared-secret-change-me"  # noqa: S105 - demo data, disabled method


def seed(ctx) -> str:
    users = ctx.users
    created = 0
    for username, channel, label, destination, kinds, enabled in METHODS:
        user = users[username]
        method = ContactMethod.objects.filter(user=user, channel=channel, label=label).first()
        fields = dict(zip(["for_page", "for_reminder", "for_digest", "for_update"], kinds, strict=True))
        services.save_contact_method(
            actor=user,
            method=method,
            user=user,
            channel=channel,
            label=label,
            email=destination if channel == Channel.EMAIL else "",
            url=destination if channel != Channel.EMAIL else "",
            enabled=enabled,
            secret=DEMO_WEBHOOK_SECRET if channel == Channel.WEBHOOK and method is None else None,
            **fields,
        )
        created += method is None
    managers = [users[u] for u in ("maya", "omar", "lena", "noah", "grace")]
    rows = services.notify(
        recipients=managers,
        kind="update",
        template="generic",
        context={
            "title": "Ops Portal demo is ready",
            "url": absolute_url("/admin/"),
            "body": "Contact methods and preferences live under Notifications > Contact methods.",
            "actions": [["Your contact methods", absolute_url("/admin/notifications/contactmethod/")]],
        },
        idempotency_key="demo-welcome",
    )
    return f"{created} contact methods, {len(rows)} welcome messages in the outbox"
