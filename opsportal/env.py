"""Strict environment parsing for settings.

django-environ parses URLs (DATABASE_URL, EMAIL_URL) well, but it reads any unknown
boolean as False ("ture" silently disables a setting). These helpers refuse values they
do not understand, and support ``NAME_FILE`` variants so secrets can come from mounted
files (Docker/Kubernetes secrets) instead of the process environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from django.core.exceptions import ImproperlyConfigured

TRUE_VALUES = frozenset({"1", "true", "yes", "on"})
FALSE_VALUES = frozenset({"0", "false", "no", "off", ""})


def _environ(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if environ is None else environ


def get_str(name: str, default: str | None = None, *, environ: Mapping[str, str] | None = None) -> str | None:
    """Value of ``name``, or the contents of the file named by ``name_FILE``."""
    env = _environ(environ)
    file_var = f"{name}_FILE"
    if name in env and file_var in env:
        raise ImproperlyConfigured(f"Set either {name} or {file_var}, not both.")
    if file_var in env:
        path = env[file_var]
        try:
            with open(path, encoding="utf-8") as fh:
                return fh.read().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{file_var}={path!r} cannot be read: {exc.strerror}") from exc
    return env.get(name, default)


def get_bool(name: str, default: bool, *, environ: Mapping[str, str] | None = None) -> bool:
    raw = _environ(environ).get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in TRUE_VALUES:
        return True
    if value in FALSE_VALUES:
        return False
    raise ImproperlyConfigured(
        f"{name}={raw!r} is not a boolean; use one of: true/false, yes/no, on/off, 1/0."
    )


def get_int(
    name: str, default: int, *, minimum: int | None = None, environ: Mapping[str, str] | None = None
) -> int:
    raw = _environ(environ).get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer.") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}={value} must be at least {minimum}.")
    return value


def get_list(name: str, default: list[str], *, environ: Mapping[str, str] | None = None) -> list[str]:
    raw = _environ(environ).get(name)
    if raw is None:
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]
