"""Find each installed app's module of a given name (``tasks``, ``demo``, ``reminders``...).

The project package never imports a domain app by name (ARCHITECTURE.md); apps plug in by
shipping a module with a known name. One helper so every registry discovers them alike.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from types import ModuleType

from django.apps import AppConfig, apps


def app_modules(name: str) -> Iterator[tuple[AppConfig, ModuleType]]:
    """(app config, ``<app>.<name>`` module) for every installed app that has one, in
    INSTALLED_APPS order. A missing module is skipped; an import error inside one is raised."""
    for config in apps.get_app_configs():
        try:
            module = importlib.import_module(f"{config.name}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{config.name}.{name}":
                raise
            continue
        yield config, module
