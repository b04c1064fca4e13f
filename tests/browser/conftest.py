"""Browser tests: Playwright driving the system's Chromium against pytest-django's live server."""

import os
import tempfile
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe

from tests.factories import UserFactory
from tests.web.conftest import pages_settings  # noqa: F401  (autouse: static, hashers, cache)

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

    def shoot(page, name: str) -> Path:
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        problems = accessibility_problems(page)
        assert not problems, f"{name} ({page.url}):\n" + "\n".join(problems)
        return path

    return shoot


@pytest.fixture
def people(transactional_db):
    """A product owner, one reviewer per dimension and a second security reviewer."""
    users = {"owner": UserFactory(username="olivia", groups=["product-owner"])}
    for username, group in [
        ("ivan", "iam"),
        ("paula", "pam"),
        ("sam", "security"),
        ("sofia", "security"),
        ("carla", "compliance"),
    ]:
        users[username] = UserFactory(username=username, groups=[group])
    return users


@pytest.fixture
def sign_in(browser, live_server):
    """Return a function opening a fresh browser session signed in as a user."""
    contexts = []

    def open_as(username: str):
        context = browser.new_context(viewport={"width": 1280, "height": 900})
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
        context.close()
