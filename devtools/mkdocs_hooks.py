"""MkDocs hooks (mkdocs.yml `hooks:`): what makes the docs site true to the code.

- **Screenshots**: the browser journeys save named 1366 px pictures in
  ``test-artifacts/screenshots/`` (``tests/browser/conftest.py: shoot``). The build takes each
  of them in place of the committed ``docs/img/screens/<name>.png``, so a site built after a
  test run shows what that run saw; a fresh clone shows the committed pictures, which
  ``make docs-screenshots`` (``python -m devtools.mkdocs_hooks``) refreshes for a commit.
- **API reference**: ``docs/api/reference.md`` and ``api/openapi.json`` are generated from the
  live OpenAPI schema (``manage.py spectacular``) at every build; nothing is pasted.
- **Configuration reference**: ``devtools/docs_config.compare`` - a setting the code reads
  without a row, or a row for a setting nobody reads, is a warning (an error under
  ``--strict``, which ``make docs`` uses).
- **Lists written for GitHub**: nested lists, tables and paragraphs inside a list item
  indented by two spaces (GitHub's style) are re-indented to the four Python-Markdown needs,
  so a page renders the same on GitHub and on the site (``four_space_lists``).
- **Navigation**: a page missing from ``nav`` in mkdocs.yml is a warning that says where to add
  it (MkDocs' own ``validation.nav.omitted_files`` says so too, tersely).
"""

from __future__ import annotations

import filecmp
import json
import logging
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # mkdocs loads this file by path; the project's modules sit next to it
    sys.path.insert(0, str(ROOT))

from devtools import docs_config, openapi_markdown  # noqa: E402

log = logging.getLogger("mkdocs.plugins.opsportal")
SHOTS_FROM = ROOT / "test-artifacts" / "screenshots"
SHOTS_TO = ROOT / "docs" / "img" / "screens"
REFERENCE_PAGE = "api/reference.md"
SCHEMA_FILE = "api/openapi.json"


def copy_screenshots() -> list[str]:
    """Copy every journey screenshot that differs from the committed one; return the names."""
    copied = []
    if SHOTS_FROM.is_dir():
        SHOTS_TO.mkdir(parents=True, exist_ok=True)
        for shot in sorted(SHOTS_FROM.glob("*.png")):
            target = SHOTS_TO / shot.name
            if not target.exists() or not filecmp.cmp(shot, target, shallow=False):
                shutil.copyfile(shot, target)
                copied.append(shot.name)
    return copied


def live_schema() -> dict:
    """The OpenAPI schema the portal serves at /api/v1/schema/, generated from the code now."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "opsportal.settings_test"}
    result = subprocess.run(  # our own manage.py, fixed arguments
        [sys.executable, "manage.py", "spectacular", "--format", "openapi-json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode:
        raise RuntimeError(f"manage.py spectacular failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout)


LIST_ITEM = re.compile(r"([-*+]|\d+\.) ")


def four_space_lists(markdown: str) -> str:
    """Double the indentation inside top-level list items (2 -> 4, 3 -> 6, 4 -> 8...), so
    content nested GitHub-style belongs to its item in Python-Markdown. Code inside a fence in
    a list item keeps its own relative indentation; nothing outside lists changes."""
    out: list[str] = []
    in_list = fence = previous_blank = False
    fence_shift: int | None = None  # inside a fenced block within a list item
    for line in markdown.split("\n"):
        stripped = line.lstrip(" ")
        indent = len(line) - len(stripped)
        if fence_shift is not None:  # code inside a list item's fence
            out.append(" " * fence_shift + line if line.strip() else line)
            if stripped.startswith("```"):
                fence_shift = None
            continue
        if not in_list or (indent == 0 and previous_blank and not LIST_ITEM.match(line)):
            in_list = False
            if stripped.startswith("```"):
                fence = not fence
            if not fence and indent == 0 and LIST_ITEM.match(line):
                in_list = True
            out.append(line)
        elif indent == 0 or not line.strip():
            out.append(line)
        else:
            out.append(" " * (indent * 2) + stripped)
            if stripped.startswith("```"):
                fence_shift = indent
        previous_blank = not line.strip()
    return "\n".join(out)


def on_page_markdown(markdown, page, config, files, **kwargs):
    return four_space_lists(markdown)


def on_files(files, config, **kwargs):
    fresh = sorted(SHOTS_FROM.glob("*.png")) if SHOTS_FROM.is_dir() else []
    for shot in fresh:
        uri = f"{SHOTS_TO.relative_to(ROOT / 'docs').as_posix()}/{shot.name}"
        committed = files.get_file_from_path(uri)
        if committed is not None:
            files.remove(committed)
        files.append(File.generated(config, uri, abs_src_path=str(shot)))
    if fresh:
        log.info(
            "Screenshots from the last browser-journey run: %d (test-artifacts/screenshots/)", len(fresh)
        )
    schema = live_schema()
    files.append(
        File.generated(
            config, REFERENCE_PAGE, content=openapi_markdown.render(schema, schema_file="openapi.json")
        )
    )
    files.append(File.generated(config, SCHEMA_FILE, content=json.dumps(schema, indent=2)))
    return files


def on_nav(nav, config, files, **kwargs):
    in_nav = {page.file.src_uri for page in nav.pages}
    for file in files.documentation_pages():
        if file.src_uri not in in_nav:
            log.warning(
                "docs/%s is not in the navigation: add '- <Title>: %s' to the right group of 'nav:' in "
                "mkdocs.yml (new feature pages go under 'Features', integrations under 'Integrations').",
                file.src_uri,
                file.src_uri,
            )
    return nav


def on_post_build(config, **kwargs):
    for problem in docs_config.compare(ROOT):
        log.warning("Configuration reference: %s", problem)


if __name__ == "__main__":  # make docs-screenshots: commit what the last test run saw
    names = copy_screenshots()
    print(f"{len(names)} screenshot(s) refreshed in docs/img/screens/: {', '.join(names) or 'none changed'}")
