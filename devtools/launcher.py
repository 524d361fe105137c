"""``make run``: prepare the database and start web + Celery worker + beat in the foreground.

Steps: start a private Redis when REDIS_URL is unset; migrate; load the demo data; sync the
periodic tasks into django-celery-beat; then run the three processes under honcho, which
stops them all on Ctrl-C (and we then stop the private Redis).

The console stays readable: the worker's and beat's output goes to var/log/worker.log and
var/log/beat.log (paths printed in the banner); only e-mail summaries (one line each, the
full text in var/log/mail.log) and errors are echoed (devtools/logtee.py).
"""

from __future__ import annotations

import contextlib
import os
import shlex
import socket
import subprocess
import sys
from pathlib import Path

from honcho.manager import Manager

from devtools.embedded_redis import embedded_redis

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _manage(*args: str, env: dict) -> None:
    subprocess.run([PY, "manage.py", *args], cwd=ROOT, env=env, check=True)


def _logged(name: str, command: str, log_dir: Path) -> str:
    """``command`` with its output in ``log_dir/<name>.log``, errors and mail summaries echoed."""
    return f"{shlex.quote(PY)} -m devtools.logtee {shlex.quote(str(log_dir / f'{name}.log'))} -- {command}"


def run(env: dict) -> int:
    host = env.get("HOST", "127.0.0.1")
    port = int(env.get("PORT", "8000"))
    if not _port_free(host, port):
        print(
            f"Port {port} on {host} is busy: stop what uses it, or run `PORT=8001 make run`.", file=sys.stderr
        )
        return 1
    env.setdefault("SITE_URL", f"http://{'localhost' if host in ('127.0.0.1', '0.0.0.0') else host}:{port}")  # noqa: S104

    print("==> migrating the database", flush=True)
    _manage("migrate", "--noinput", env=env)
    print("==> loading demo data", flush=True)
    _manage("seed_demo", env=env)
    _manage("sync_periodic_tasks", env=env)

    url = env["SITE_URL"]
    log_dir = Path(env.get("VAR_DIR", ROOT / "var")) / "log"
    log_dir.mkdir(parents=True, exist_ok=True)
    password = env.get("DEMO_PASSWORD", "opsportal-demo")
    print(
        f"\n==> Ops Portal is starting at {url}/\n"
        f"    admin:   {url}/admin/        support: {url}/accounts/login/\n"
        f"    API:     {url}/api/v1/docs/  health:  {url}/healthz\n"
        f"    logins:  admin, maya (manager), ravi (responder), rita (release lead), sam (support);"
        f" password {password}\n"
        f"    logs:    worker {log_dir / 'worker.log'}, beat {log_dir / 'beat.log'}, e-mails {log_dir / 'mail.log'}\n"
        "    Press Ctrl-C to stop everything.\n",
        flush=True,
    )
    manager = Manager()
    manager.add_process("web", f"{PY} manage.py runserver {host}:{port} --noreload", env=env, cwd=str(ROOT))
    manager.add_process(
        "worker",
        _logged(
            "worker",
            f"{PY} -m celery -A opsportal worker -Q critical,probes,default --concurrency 2 -l INFO"
            " --without-gossip --without-mingle",
            log_dir,
        ),
        env=env,
        cwd=str(ROOT),
    )
    manager.add_process(
        "beat",
        _logged("beat", f"{PY} -m celery -A opsportal beat -l INFO --pidfile=", log_dir),
        env=env,
        cwd=str(ROOT),
    )
    manager.loop()
    return manager.returncode or 0


def main() -> int:
    env = dict(os.environ)
    env.setdefault("DEBUG", "true")
    env.setdefault("PYTHONUNBUFFERED", "1")
    with contextlib.ExitStack() as stack:
        if not env.get("REDIS_URL"):
            env["REDIS_URL"] = stack.enter_context(embedded_redis())
            print(
                f"==> started a private Redis at {env['REDIS_URL']} (set REDIS_URL to use yours)", flush=True
            )
        try:
            return run(env)
        except KeyboardInterrupt:
            return 130
        except subprocess.CalledProcessError as exc:
            return exc.returncode


if __name__ == "__main__":
    sys.exit(main())
