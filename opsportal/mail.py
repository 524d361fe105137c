"""The development e-mail backend (``make run``, DEBUG without EMAIL_URL): one line per
message on the console, the full text appended to ``var/log/mail.log``. Every notification
is also in the admin's notification log (notifications.Notification)."""

from __future__ import annotations

import threading
from pathlib import Path

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend

MAIL_MARKER = "\u2709 "  # devtools/logtee.py echoes lines that start with it


def mail_log_path() -> Path:
    return Path(settings.VAR_DIR) / "log" / "mail.log"


def summary(message) -> str:
    to = ", ".join(message.recipients()) or "(nobody)"
    subject = " ".join(str(message.subject).split())
    if len(subject) > 100:
        subject = subject[:99] + "\u2026"
    return f"{MAIL_MARKER}mail to {to}: {subject}  (full text: {mail_log_path()})"


class SummaryConsoleBackend(BaseEmailBackend):
    _lock = threading.Lock()

    def send_messages(self, email_messages):
        if not email_messages:
            return 0
        path = mail_log_path()
        sent = 0
        with self._lock:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as log:
                for message in email_messages:
                    log.write(message.message().as_string())
                    log.write("\n" + "-" * 79 + "\n")
                    print(summary(message), flush=True)  # noqa: T201 (the point of this backend)
                    sent += 1
        return sent
