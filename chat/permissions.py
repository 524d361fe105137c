"""Who may see the chat adapter's records (merged into the role groups by accounts.roles).

Nobody edits them: they mirror what the workspace holds and change only through the outbox
steps. What a chat user may *do* (declare, acknowledge, page...) is decided by the owning
apps' permissions, as the portal user their verified e-mail maps to (see chat/handlers.py).
"""

from accounts.roles import MANAGERS, RELEASE_LEADS, RESPONDERS, view

ROLE_GRANTS = {
    MANAGERS: view("chat", "incidentchannel"),
    RESPONDERS: view("chat", "incidentchannel"),
    RELEASE_LEADS: view("chat", "incidentchannel"),
}
