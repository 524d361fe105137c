"""Which settings the code reads, and which the configuration reference documents.

The configuration reference (docs/operations/configuration.md) is written by people; this
module keeps it honest. It reads the source (no Django needed, so the docs build can use it)
and finds

- every **environment variable** read anywhere in the product code: ``opsportal.env``
  helpers (``get_str``/``get_bool``/``get_int``/``get_list``), django-environ calls
  (``_env.email_url("EMAIL_URL")``), ``os.environ.get``/``[...]``/``in``, ``os.getenv``,
  ``env.get("HOST")`` on a copy of the environment, and names listed in a ``for`` loop
  whose body tests ``os.environ`` (settings.py's tuning loop);
- every **Django setting an app reads with a default** (``getattr(settings, "NAME", ...)``,
  directly or through a module's one-line helper such as ``_get``/``_setting``).

``tests/docs/test_docs.py`` and the MkDocs hook (``devtools/mkdocs_hooks.py``) compare
both sets with the names in the reference's tables, so a new setting without a row, or a
row for a setting nobody reads, fails the test suite and the docs build.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = "docs/operations/configuration.md"

# Code that is not the product: tests, benchmarks (their BENCH_* knobs are documented in each
# script), migrations, the test settings (which pin variables, they do not read them).
EXCLUDED_PARTS = {".venv", "tests", "benchmarks", "migrations", "node_modules", "site", "var", "staticfiles"}
EXCLUDED_FILES = {"opsportal/settings_test.py", "devtools/docs_config.py", "devtools/mkdocs_hooks.py"}
# Read by Django/the platform itself, never configuration an operator sets.
IGNORED = {"DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE", "PYTEST_XDIST_WORKER"}

NAME = re.compile(r"^[A-Z][A-Z0-9_]{2,}$")
ENV_HELPERS = {"get_str", "get_bool", "get_int", "get_list"}
ENVIRON_URL_HELPERS = {"email_url", "db_url", "cache_url", "search_url"}


@dataclass
class Found:
    env: dict[str, list[str]] = field(default_factory=dict)  # name -> ["path:line", ...]
    settings: dict[str, list[str]] = field(default_factory=dict)

    def add(self, kind: str, name: str, where: str) -> None:
        if name in IGNORED or not NAME.match(name):
            return
        getattr(self, kind).setdefault(name, []).append(where)

    @property
    def names(self) -> set[str]:
        return set(self.env) | set(self.settings)


def _const(node: ast.AST | None, constants: dict[str, str]) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return constants.get(node.id)
    return None


def _is_environ(node: ast.AST) -> bool:
    """``os.environ``, ``_os.environ``, ``environ`` (a name)."""
    return (isinstance(node, ast.Attribute) and node.attr == "environ") or (
        isinstance(node, ast.Name) and node.id == "environ"
    )


def _mentions_environ(nodes: list[ast.stmt]) -> bool:
    return any(_is_environ(n) for stmt in nodes for n in ast.walk(stmt))


def _reads_environment(func: ast.Attribute) -> bool:
    """``envparse.get_int(...)``, ``_env.email_url(...)``, ``os.environ.get(...)``,
    ``env.get(...)`` (a copy of the environment), ``os.getenv(...)``."""
    if func.attr in ENV_HELPERS or func.attr in ENVIRON_URL_HELPERS or func.attr == "getenv":
        return True
    value = func.value
    return func.attr == "get" and (_is_environ(value) or (isinstance(value, ast.Name) and value.id == "env"))


def _setting_helpers(tree: ast.Module) -> set[str]:
    """Names of module functions that are ``return getattr(settings, <param>, ...)``."""
    helpers = set()
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef) or not node.args.args:
            continue
        param = node.args.args[0].arg
        for sub in ast.walk(node):
            if (
                isinstance(sub, ast.Call)
                and isinstance(sub.func, ast.Name)
                and sub.func.id == "getattr"
                and len(sub.args) >= 2
                and isinstance(sub.args[0], ast.Name)
                and sub.args[0].id == "settings"
                and isinstance(sub.args[1], ast.Name)
                and sub.args[1].id == param
            ):
                helpers.add(node.name)
    return helpers


def scan_source(text: str, path: str, found: Found) -> None:
    tree = ast.parse(text)
    constants = {
        target.id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    helpers = _setting_helpers(tree)
    for node in ast.walk(tree):
        where = f"{path}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Call):
            func, first = node.func, _const(node.args[0] if node.args else None, constants)
            if isinstance(func, ast.Attribute) and first and _reads_environment(func):
                found.add("env", first, where)
            elif isinstance(func, ast.Name) and func.id == "getattr" and len(node.args) >= 2:
                if isinstance(node.args[0], ast.Name) and node.args[0].id == "settings":
                    name = _const(node.args[1], constants)
                    if name:
                        found.add("settings", name, where)
            elif isinstance(func, ast.Name) and func.id in helpers and first:
                found.add("settings", first, where)
        elif isinstance(node, ast.Subscript) and _is_environ(node.value):
            name = _const(node.slice, constants)
            if name:
                found.add("env", name, where)
        elif isinstance(node, ast.Compare) and any(isinstance(op, ast.In) for op in node.ops):
            if _is_environ(node.comparators[-1]):
                name = _const(node.left, constants)
                if name:
                    found.add("env", name, where)
        elif isinstance(node, ast.For) and _mentions_environ(node.body):
            for sub in ast.walk(node.iter):
                if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
                    found.add("env", sub.value, where)


def code_settings(root: Path = ROOT) -> Found:
    """Every environment variable and app setting the product code reads."""
    found = Found()
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root)
        if EXCLUDED_PARTS & set(relative.parts[:-1]) or relative.as_posix() in EXCLUDED_FILES:
            continue
        scan_source(path.read_text(encoding="utf-8"), relative.as_posix(), found)
    return found


TABLE_NAME = re.compile(r"`([A-Z][A-Z0-9_]{2,})`")


def documented_settings(markdown: str) -> dict[str, int]:
    """Names in the first cell of every table row of the reference -> line number.

    A cell may name several (``HOST``, ``PORT``) and a ``_FILE`` variant
    (``SECRET_KEY`` / ``SECRET_KEY_FILE``); the variants are implied by their base name.
    """
    names: dict[str, int] = {}
    fence = False
    for number, line in enumerate(markdown.splitlines(), 1):
        if line.startswith("```"):
            fence = not fence
        if fence or not line.startswith("|") or line.startswith("|---"):
            continue
        first_cell = line.strip("|").split("|")[0]
        for name in TABLE_NAME.findall(first_cell):
            names.setdefault(name, number)
    return names


def compare(root: Path = ROOT) -> list[str]:
    """Problems between the code and the reference, each a sentence saying what to do."""
    found = code_settings(root)
    documented = documented_settings((root / REFERENCE).read_text(encoding="utf-8"))
    problems = []
    for name in sorted(found.names - set(documented)):
        if name.endswith("_FILE") and name[: -len("_FILE")] in documented:
            continue
        kind = "environment variable" if name in found.env else "Django setting"
        where = ", ".join(sorted(set(found.env.get(name, []) + found.settings.get(name, [])))[:3])
        table = (
            "the table of your app's section under 'Environment variables'"
            if name in found.env
            else "the table 'Django settings (no environment variable)'"
        )
        problems.append(
            f"{kind} {name} is read by {where} but not documented: add a row "
            f"'| `{name}` | <default> | <what it does> |' to {table} in {REFERENCE}."
        )
    for name, line in sorted(documented.items()):
        base = name[: -len("_FILE")] if name.endswith("_FILE") else name
        if name not in found.names and base not in found.names:
            problems.append(
                f"{REFERENCE}:{line} documents {name}, which no code reads: remove the row, or fix "
                "the name (or, if the code reads it in a way devtools/docs_config.py does not "
                "recognise, teach it there)."
            )
    return problems


if __name__ == "__main__":  # python -m devtools.docs_config
    issues = compare()
    print("\n".join(issues) or "The configuration reference lists every setting the code reads.")
    raise SystemExit(1 if issues else 0)
