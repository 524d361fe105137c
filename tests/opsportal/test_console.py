"""The `make run` console (issue 21, part 8): worker/beat output in var/log with errors and
e-mail summaries echoed (devtools/logtee.py), one line per console e-mail with the full text
in var/log/mail.log (opsportal/mail.py), no traceback for an expected 403 (opsportal/logs.py)."""

import io
import logging
import subprocess
import sys

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied

from devtools import launcher, logtee
from opsportal.logs import ExpectedRefusals
from opsportal.mail import MAIL_MARKER, SummaryConsoleBackend


def test_logtee_keeps_everything_in_the_log_and_echoes_errors_and_mail_only(tmp_path):
    log = tmp_path / "log" / "worker.log"
    script = (
        "import sys\n"
        "print('[2026-12-06 09:00:00,000: INFO/MainProcess] celery@host ready.')\n"
        "print('\u2709 mail to maya@example.com: [INC-1001] declared')\n"
        "print('[2026-12-06 09:00:01,000: ERROR/MainProcess] Task boom raised')\n"
        "print('Traceback (most recent call last):', file=sys.stderr)\n"
        "sys.exit(3)\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "devtools.logtee", str(log), "--", sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 3  # the child's status
    echoed = done.stdout.splitlines()
    assert echoed == [
        "\u2709 mail to maya@example.com: [INC-1001] declared",
        f"[2026-12-06 09:00:01,000: ERROR/MainProcess] Task boom raised  (details: {log})",
    ]
    text = log.read_text()
    for expected in ("celery@host ready.", "Traceback", "declared"):
        assert expected in text


def test_logtee_refuses_a_bad_command_line(capsys):
    assert logtee.main(["only-a-log"]) == 2


def test_launcher_sends_worker_and_beat_output_to_var_log(tmp_path):
    command = launcher._logged("worker", "python -m celery -A opsportal worker", tmp_path)
    assert "-m devtools.logtee" in command
    assert str(tmp_path / "worker.log") in command
    assert command.endswith("-- python -m celery -A opsportal worker")


def test_console_mail_is_one_line_each_and_the_full_text_goes_to_the_log(settings, tmp_path, capsys):
    settings.VAR_DIR = tmp_path
    backend = SummaryConsoleBackend()
    messages = [
        mail.EmailMessage(
            "[INC-1001] SEV-1 declared:   Billing down", "Long body\n" * 50, to=["maya@example.com"]
        ),
        mail.EmailMessage(
            "Page: webhooks", "Acknowledge: https://...", to=["ravi@example.com", "sam@example.com"]
        ),
    ]
    assert backend.send_messages(messages) == 2
    out = capsys.readouterr().out.splitlines()
    log = tmp_path / "log" / "mail.log"
    assert out == [
        f"{MAIL_MARKER}mail to maya@example.com: [INC-1001] SEV-1 declared: Billing down  (full text: {log})",
        f"{MAIL_MARKER}mail to ravi@example.com, sam@example.com: Page: webhooks  (full text: {log})",
    ]
    text = log.read_text()
    assert text.count("Long body") == 50
    assert "Acknowledge: https://" in text


def _record(exc, status):
    try:
        raise exc
    except type(exc):
        info = sys.exc_info()
    record = logging.LogRecord("django.request", logging.WARNING, __file__, 1, "Forbidden: %s", ("/x",), info)
    record.status_code = status
    return record


def test_an_expected_403_logs_one_line_without_a_traceback():
    record = _record(PermissionDenied("Your account does not use the admin."), 403)
    assert ExpectedRefusals().filter(record) is True
    assert record.exc_info is None
    assert logging.Formatter().format(record) == "Forbidden: /x"


def test_a_real_fault_keeps_its_traceback():
    record = _record(ValueError("boom"), 500)
    ExpectedRefusals().filter(record)
    assert "Traceback" in logging.Formatter().format(record)


@pytest.mark.django_db
def test_a_support_user_opening_the_admin_prints_no_traceback(client, support_user):
    """Through the real logging configuration: the console handler and its filter."""
    console = next(
        h for h in logging.getLogger().handlers if any(isinstance(f, ExpectedRefusals) for f in h.filters)
    )
    stream = io.StringIO()
    previous = console.setStream(stream)
    try:
        client.force_login(support_user)
        assert client.get("/admin/").status_code == 403
    finally:
        console.setStream(previous)
    assert "Forbidden (Permission denied): /admin/" in stream.getvalue()
    assert "Traceback" not in stream.getvalue()
