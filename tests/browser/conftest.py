"""Browser tests: Playwright driving the system's Chromium against pytest-django's live server."""

import os
import tempfile
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe

from tests.browser import demo_site as demo_site_module
from tests.factories import TeamFactory, UserFactory
from tests.web.conftest import pages_settings  # noqa: F401  (autouse: static, cache)

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
PASSWORD = "pw-for-tests-1"

# Chromium writes its profile and caches under XDG folders: keep them out of $HOME.
_XDG = Path(tempfile.mkdtemp(prefix="countersign-chromium-"))
os.environ.setdefault("XDG_CONFIG_HOME", str(_XDG / "config"))
os.environ.setdefault("XDG_CACHE_HOME", str(_XDG / "cache"))


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Launch the system Chromium (pytest-playwright's --browser-channel cannot name it)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install it with `apt-get install -y chromium`.")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


# axe-core's impacts that fail a page: what keeps someone from using it.
BLOCKING_IMPACTS = {"critical", "serious"}


def accessibility_problems(page) -> list[str]:
    """Return axe-core's critical and serious findings on the page, one line each."""
    results = Axe().run(page)
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']} at "
        + ", ".join(" ".join(node["target"]) for node in violation["nodes"][:5])
        for violation in results.response["violations"]
        if violation["impact"] in BLOCKING_IMPACTS
    ]


@pytest.fixture
def shots():
    """Return a function checking a page with axe-core and saving its full-page screenshot.

    Every page a story shows goes through here, so each is held to 0 critical
    and 0 serious accessibility findings.
    """
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def shoot(page, name: str, *, javascript: bool = True) -> Path:
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        # axe-core runs as the page's JavaScript: a page without it is not checked.
        if javascript:
            problems = accessibility_problems(page)
            assert not problems, f"{name} ({page.url}):\n" + "\n".join(problems)
        return path

    return shoot


@pytest.fixture
def people(transactional_db):
    """A product owner (of team people-ops), one reviewer per dimension and a second
    security reviewer."""
    users = {"owner": UserFactory(username="olivia", groups=["product-owner"])}
    TeamFactory(slug="people-ops", name="People operations", members=[users["owner"]])
    for username, group in [
        ("ivan", "iam"),
        ("paula", "pam"),
        ("sam", "security"),
        ("sofia", "security"),
        ("carla", "compliance"),
    ]:
        users[username] = UserFactory(username=username, groups=[group])
    return users


# Chromium fires `securitypolicyviolation` for whatever the Content-Security-Policy
# blocks; this reports each one on the console, where the guard below collects it.
CSP_REPORTER = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.effectiveDirective} blocked ${event.blockedURI}`);
});
"""


@pytest.fixture
def csp_violations():
    """Collect the CSP violations of every page a signed-in session opens; none may occur."""
    violations: list[str] = []
    yield violations
    assert not violations, "Content-Security-Policy violations:\n" + "\n".join(violations)


def watch_csp(context, violations: list[str]) -> None:
    """Add every CSP violation on the context's pages to `violations`."""

    def collect(message) -> None:
        if "CSP violation" in message.text or "Content Security Policy" in message.text:
            violations.append(f"{message.location.get('url', '')}: {message.text}")

    context.add_init_script(CSP_REPORTER)
    context.on("console", collect)


@pytest.fixture
def sign_in(browser, live_server, csp_violations):
    """Return a function opening a fresh browser session signed in as a user.

    Every page of the session is watched for CSP violations (`csp_violations`).
    """
    contexts = []

    def open_as(username: str):
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        watch_csp(context, csp_violations)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(f"{live_server.url}/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", PASSWORD)
        page.click("button:has-text('Sign in')")
        page.wait_for_url(f"{live_server.url}/")
        return page

    yield open_as
    for context in contexts:
        # A test may end as its last htmx request is still being served; the
        # database is emptied after the test, and must not meet that request.
        for page in context.pages:
            page.wait_for_function(HTMX_IDLE)
        context.close()


# True once no element has an htmx request in flight (htmx marks them while they are).
HTMX_IDLE = "() => !document.querySelector('.htmx-request')"

# `make screenshots` sets this to docs/images: the story on the demo data then
# saves the user guides' pictures there (viewport-sized, from the SQLite run).
GUIDE_IMAGES = os.environ.get("COUNTERSIGN_SCREENSHOTS", "")
DEMO_PASSWORD = "countersign-demo"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def demo_site(request, tmp_path_factory):
    """`make run` (scripts/run.sh) on a scratch database of each kind, with the demo data."""
    site, stop = demo_site_module.start(request.param, tmp_path_factory.mktemp(request.param))
    yield site
    stop()


@pytest.fixture
def demo_sign_in(browser, demo_site, csp_violations):
    """Return a function opening a fresh browser session on the demo site, signed in as a
    demo user (or signed out with `None`); every page is watched for CSP violations."""
    contexts = []

    def open_as(username: str | None):
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        watch_csp(context, csp_violations)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(f"{demo_site.url}/login/")
        if username:
            page.fill("#id_username", username)
            page.fill("#id_password", DEMO_PASSWORD)
            page.click("button:has-text('Sign in')")
            page.wait_for_url(f"{demo_site.url}/")
        return page

    yield open_as
    for context in contexts:
        context.close()


@pytest.fixture
def guide_shots(demo_site):
    """Return a function checking a page with axe-core and saving its screenshot.

    Like `shots`, on the demo site: 0 critical and 0 serious accessibility
    findings on every page. With COUNTERSIGN_SCREENSHOTS set, the SQLite run
    writes the user guides' images there.
    """
    folder = ARTIFACTS / f"demo-{demo_site.database}"
    folder.mkdir(parents=True, exist_ok=True)
    guide = Path(GUIDE_IMAGES) if GUIDE_IMAGES and demo_site.database == "sqlite" else None

    def shoot(page, name: str) -> Path:
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
        if guide:
            guide.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(guide / f"{name}.png"))
        problems = accessibility_problems(page)
        assert not problems, f"{name} ({page.url}):\n" + "\n".join(problems)
        return folder / f"{name}.png"

    return shoot
