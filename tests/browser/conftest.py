"""Browser journeys: Playwright driving Debian's /usr/bin/chromium headless.

Never a downloaded browser (no `playwright install`): CHROMIUM_PATH points at the system
binary, which .ci/run installs with apt. Missing chromium is a failure, not a skip.
"""

import os
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# Named pictures for the docs site: `make docs` shows them in place of the committed
# docs/img/screens/<name>.png, and `make docs-screenshots` copies them there to be committed
# (devtools/mkdocs_hooks.py).
SCREENSHOTS = ARTIFACTS / "screenshots"
DOCS_VIEWPORT = {"width": 1366, "height": 900}
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="module")
def browser():
    """One Chromium per test module. Not per session: Playwright's sync API keeps an event
    loop running in this thread while it is open, and tests of code that calls asyncio.run()
    (the probe engine) must not run inside it."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: apt-get install -y chromium (see .ci/run)")
    # Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
    # between browser steps are ordinary blocking calls in a test process, which is safe.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(autouse=True)
def _same_people_in_every_picture():
    """Factories draw names from a seeded generator, so the docs' screenshots show the same
    people run after run and change only when a page's look does."""
    import factory.random

    factory.random.reseed_random("opsportal-docs")


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport=DOCS_VIEWPORT)
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    if getattr(request.node, "rep_call", None) and request.node.rep_call.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


def shoot(page, name: str, *, at=None) -> None:
    """Save the docs screenshot ``name`` (docs/img/screens/<name>.png): the 1366 x 900 window
    as a person sees it, scrolled to ``at`` (a locator) when given. Name it after what it
    shows; a docs page that uses it keeps working as the page's look changes."""
    if page.viewport_size != DOCS_VIEWPORT:
        page.set_viewport_size(DOCS_VIEWPORT)
    if at is not None:
        at.scroll_into_view_if_needed()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def login(page, live_server, username, password, *, admin=True):
    path = "/admin/login/" if admin else "/accounts/login/"
    page.goto(f"{live_server.url}{path}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in" if admin else "Sign in").click()
