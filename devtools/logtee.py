"""Run a noisy process (Celery worker, beat) with its output in a log file, echoing to the
console only what a person at ``make run`` needs: e-mail summaries (one line each, from
``opsportal.mail.SummaryConsoleBackend``) and ERROR/CRITICAL lines, each with the log's path.

    python -m devtools.logtee var/log/worker.log -- python -m celery -A opsportal worker ...

The child's exit status is ours. Ctrl-C / SIGTERM reach the child through the process group
(honcho starts each process in its own session); we keep reading until it has finished
writing, so its last lines land in the log.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

MAIL_MARKER = "\u2709 "  # "✉ " starts every e-mail summary line
IMPORTANT = re.compile(r"\b(ERROR|CRITICAL)\b")


def echo_line(line: str) -> bool:
    return line.startswith(MAIL_MARKER) or bool(IMPORTANT.search(line))


def main(argv: list[str]) -> int:
    if "--" not in argv or argv.index("--") != 1:
        print("usage: python -m devtools.logtee LOGFILE -- COMMAND...", file=sys.stderr)
        return 2
    log_path, command = Path(argv[0]), argv[2:]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the child gets it too; we drain and follow
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    child = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace", bufsize=1
    )
    with log_path.open("a", encoding="utf-8") as log:
        for line in child.stdout:
            log.write(line)
            log.flush()
            if echo_line(line):
                text = line.rstrip("\n")
                suffix = "" if line.startswith(MAIL_MARKER) else f"  (details: {log_path})"
                print(text + suffix, flush=True)
    return child.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
