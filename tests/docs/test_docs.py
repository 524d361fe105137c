"""The docs site stays true: the configuration reference against the code, the README as a
front door that lost nothing, and screenshots that only the browser journeys make.

The strict build itself (broken links and anchors, pages missing from the nav) runs as
`make docs`, which `make test` runs after the suite; see docs/development.md#documentation.
"""

import re
from pathlib import Path

import pytest

from devtools import docs_config

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
SCREENS = DOCS / "img" / "screens"
GUIDES = ["managers", "responders", "support", "release-leads"]

# Every heading of the 1,583-line README before the docs site (issue 28), and where its
# section lives now: (docs page, heading there). Nothing was dropped.
MOVED = {
    "A tour": ("getting-started/tour.md", "A tour"),
    "Service catalog, roles, API and the platform underneath": (
        "features/catalog.md",
        "Service catalog, roles, API and the platform underneath",
    ),
    "Roles and permissions": ("operations/security.md", "Roles and permissions"),
    "API": ("api/index.md", "API overview"),
    "API tokens for machines": ("api/authentication.md", "API tokens for machines"),
    "Sign-in lockout": ("operations/security.md", "Sign-in lockout"),
    "Notifications": ("features/notifications.md", "Notifications"),
    "How delivery works": ("features/notifications.md", "How delivery works"),
    "Webhook format and signature": ("api/webhooks.md", "Webhook format and signature"),
    "Settings (notifications)": ("features/notifications.md", "Settings"),
    "Outbound requests": ("operations/security.md", "Outbound requests"),
    "For developers": ("features/notifications.md", "For developers"),
    "Incidents": ("features/incidents.md", "Incidents"),
    "API (incidents)": ("features/incidents.md", "API"),
    "For other apps": ("features/incidents.md", "For other apps"),
    "On-call: schedules, escalation policies and paging": (
        "features/oncall.md",
        "On-call: schedules, escalation policies and paging",
    ),
    "DST rules (handoffs follow local wall time)": (
        "concepts/dst.md",
        "DST rules (handoffs follow local wall time)",
    ),
    "Escalation policies and paging": ("features/oncall.md", "Escalation policies and paging"),
    "API (on-call)": ("features/oncall.md", "API"),
    "Settings (on-call)": ("features/oncall.md", "Settings"),
    "Support escalations": ("features/escalations.md", "Support escalations"),
    "Postmortems and remediation": ("features/postmortems.md", "Postmortems and remediation"),
    "Runbooks": ("features/runbooks.md", "Runbooks"),
    "Health probes": ("features/probes.md", "Health probes"),
    "SLA reminders": ("concepts/reminders.md", "SLA reminders"),
    "Release readiness": ("features/readiness.md", "Release readiness"),
    "Metrics and the operations dashboard": ("features/metrics.md", "Metrics and the operations dashboard"),
    "Definitions": ("concepts/metrics.md", "Definitions"),
    "API (metrics)": ("features/metrics.md", "API"),
    "Prometheus": ("integrations/prometheus.md", "Prometheus"),
    "Operating model (`operations`)": ("features/operating-model.md", "Operating model (`operations`)"),
    "Status page": ("features/status-page.md", "Status page"),
    "Architecture": ("architecture.md", "Architecture"),
    "Configuration": ("operations/configuration.md", "Configuration reference"),
    "Running in production": ("operations/production.md", "Running in production"),
    "Development": ("development.md", "Development"),
}


def headings(markdown: str) -> list[str]:
    found, fence = [], False
    for line in markdown.splitlines():
        if line.startswith("```"):
            fence = not fence
        match = None if fence else re.match(r"^#{1,6} (.*?)(?: \{[^}]*\})?$", line)
        if match:
            found.append(match.group(1).strip())
    return found


def test_the_configuration_reference_lists_every_setting_the_code_reads():
    problems = docs_config.compare()
    assert not problems, "\n".join(problems)


def test_the_reference_check_recognises_every_way_the_code_reads_a_setting(tmp_path):
    source = """
import os, os as _os
import environ
from django.conf import settings
from opsportal import env as envparse

A = envparse.get_int("ALPHA_LIMIT", 3, minimum=1)
B = envparse.get_str("BRAVO_KEY")
vars().update(environ.Env().email_url("CHARLIE_URL", default="x"))
D = os.environ.get("DELTA_HOST")
E = os.environ["ECHO_PORT"]
if "FOXTROT_MODE" in _os.environ:
    pass
for _name, _minimum in (("GOLF_SIZE", 1), ("HOTEL_SIZE", 2)):
    if _name in _os.environ:
        pass
SETTING = "INDIA_NETWORKS"


def _get(name, default):
    return getattr(settings, name, default)


def juliet():
    return _get("JULIET_DAYS", 90), getattr(settings, "KILO_NAME", ""), getattr(settings, SETTING, None)
"""
    found = docs_config.Found()
    docs_config.scan_source(source, "example.py", found)
    assert set(found.env) == {
        "ALPHA_LIMIT", "BRAVO_KEY", "CHARLIE_URL", "DELTA_HOST", "ECHO_PORT", "FOXTROT_MODE", "GOLF_SIZE",
        "HOTEL_SIZE",
    }  # fmt: skip
    assert set(found.settings) == {"JULIET_DAYS", "KILO_NAME", "INDIA_NETWORKS"}
    assert found.env["ALPHA_LIMIT"] == ["example.py:7"]


def test_an_undocumented_setting_fails_with_what_to_add_where(tmp_path):
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "conf.py").write_text('import os\nX = os.environ.get("NEW_THING_URL")\n')
    (tmp_path / "docs" / "operations").mkdir(parents=True)
    (tmp_path / docs_config.REFERENCE).write_text(
        "| variable | default | meaning |\n|---|---|---|\n| `OLD_THING` | - | gone |\n"
    )
    problems = docs_config.compare(tmp_path)
    assert problems == [
        "environment variable NEW_THING_URL is read by app/conf.py:2 but not documented: add a row "
        "'| `NEW_THING_URL` | <default> | <what it does> |' to the table of your app's section under "
        "'Environment variables' in docs/operations/configuration.md.",
        "docs/operations/configuration.md:3 documents OLD_THING, which no code reads: remove the row, or "
        "fix the name (or, if the code reads it in a way devtools/docs_config.py does not recognise, teach "
        "it there).",
    ]


@pytest.mark.parametrize("old", sorted(MOVED))
def test_every_section_removed_from_the_readme_lives_in_the_docs(old):
    page, heading = MOVED[old]
    assert heading in headings((DOCS / page).read_text(encoding="utf-8")), f"{old!r} lost from docs/{page}"


def test_the_readme_is_a_front_door():
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 250
    sections = set(headings(text))
    assert {
        "Try it: two commands",
        "Features",
        "Architecture",
        "Production in ten lines",
        "Development",
    } <= sections
    assert "Licence" in sections
    assert "make run" in text
    assert "make test" in text
    for login in ("admin", "maya", "ravi", "sam", "rita"):
        assert f"| `{login}`" in text
    assert _pictures(text), "a screenshot"


def test_every_relative_link_in_the_readme_resolves():
    text = README.read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    local = [t for t in targets if not re.match(r"^[a-z]+:", t)]
    assert local, "the README links into the docs"
    missing = [t for t in local if not (ROOT / t).exists()]
    assert not missing, missing


def test_every_docs_screenshot_is_taken_by_a_browser_journey():
    """docs/img/screens/ holds only what `shoot()` saves, so `make test` keeps it current."""
    journeys = "\n".join(
        p.read_text(encoding="utf-8") for p in (ROOT / "tests" / "browser").glob("test_*.py")
    )
    taken = set(re.findall(r'shoot\(\s*\w+,\s*"([a-z0-9-]+)"', journeys))
    committed = {p.stem for p in SCREENS.glob("*.png")}
    assert committed <= taken, (
        f"no journey takes {sorted(committed - taken)}: remove them or add shoot() calls"
    )
    assert taken <= committed, (
        f"run the browser journeys and `make docs`, then commit {sorted(taken - committed)}"
    )


def _pictures(markdown: str) -> set[str]:
    """Screenshots a page shows (examples in `code` are not pictures)."""
    return set(
        re.findall(r"!\[[^\]]*\]\([^)]*img/screens/([a-z0-9-]+)\.png\)", re.sub(r"`[^`\n]*`", "", markdown))
    )


def test_every_screenshot_the_docs_show_exists():
    used = {
        (page, name) for page in DOCS.rglob("*.md") for name in _pictures(page.read_text(encoding="utf-8"))
    }
    used |= {("README.md", name) for name in _pictures(README.read_text(encoding="utf-8"))}
    assert used
    missing = sorted((str(page), name) for page, name in used if not (SCREENS / f"{name}.png").exists())
    assert not missing, missing


@pytest.mark.parametrize("guide", GUIDES)
def test_each_role_guide_shows_at_least_three_screenshots(guide):
    text = (DOCS / "guides" / f"{guide}.md").read_text(encoding="utf-8")
    shown = set(re.findall(r"!\[[^\]]*\]\(\.\./img/screens/([a-z0-9-]+)\.png\)", text))
    assert len(shown) >= 3, shown


def test_every_yaml_and_json_example_in_the_docs_parses():
    """Snippets people paste (CI pipelines, alert rules, scrape configs) are valid as shown."""
    import json

    import yaml

    checked = 0
    for page in DOCS.rglob("*.md"):
        text = page.read_text(encoding="utf-8")
        for block in re.findall(r"```yaml\n(.*?)```", text, flags=re.DOTALL):
            yaml.safe_load(block)
            checked += 1
        for block in re.findall(r"```json\n(.*?)```", text, flags=re.DOTALL):
            if "..." not in block:  # abbreviated examples say so with "..."
                json.loads(block)
                checked += 1
    assert checked >= 4


def test_every_docs_page_is_in_the_navigation():
    """The strict build fails too; this says it faster, without building."""
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8").split("\nnav:", 1)[1]
    listed = set(re.findall(r"([\w/.-]+\.md)\s*$", nav, flags=re.MULTILINE))
    generated = {"api/reference.md"}
    pages = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    assert generated <= listed
    assert pages - listed == set(), "add these to nav: in mkdocs.yml (see docs/development.md#adding-a-page)"
    assert listed - pages - generated == set(), "nav names pages that do not exist"


def test_lists_written_for_github_render_nested_on_the_site():
    from devtools.mkdocs_hooks import four_space_lists

    source = "\n".join(
        [
            "- item",
            "  continued",
            "  - nested",
            "    nested continued",
            "",
            "  | a | b |",
            "  |---|---|",
            "  ```python",
            "  def f():",
            "      return 1",
            "  ```",
            "1. step",
            "   more",
            "",
            "After the list.",
            "",
            "    an indented code block stays",
        ]
    )
    assert four_space_lists(source).split("\n") == [
        "- item",
        "    continued",
        "    - nested",
        "        nested continued",
        "",
        "    | a | b |",
        "    |---|---|",
        "    ```python",
        "    def f():",
        "        return 1",
        "    ```",
        "1. step",
        "      more",
        "",
        "After the list.",
        "",
        "    an indented code block stays",
    ]
