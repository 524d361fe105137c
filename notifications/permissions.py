"""What each role may do with notifications (merged into the role groups by accounts.roles).

Everyone on staff manages contact methods (the admin limits each person to their own, and
managers to their teams' members) and sees their own notification log; managers see the
whole log and may resend or cancel (``change_notification``).
"""

from accounts.roles import MANAGERS, RELEASE_LEADS, RESPONDERS, crud, view

_CONTACTS = crud("notifications", "contactmethod")

ROLE_GRANTS = {
    MANAGERS: _CONTACTS
    | view("notifications", "notification", "historicalcontactmethod")
    | {"notifications.change_notification"},
    RESPONDERS: _CONTACTS | view("notifications", "notification"),
    RELEASE_LEADS: _CONTACTS | view("notifications", "notification"),
}
