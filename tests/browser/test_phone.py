"""At a phone's 390 x 844, no page of the story scrolls sideways; the queue reads as cards."""

import pytest
from playwright.sync_api import expect

from approvals.models import PackageState
from tests.browser.conftest import PASSWORD
from tests.factories import DriftFindingFactory, manifest_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def story(workflow, agent):
    """support-assistant approved as v1, v2 (wider) in review with one approval, a drift finding."""
    workflow.approve(agent)
    wider = manifest_for(agent)
    wider["scope"]["datasets"][0]["access"] = "write"
    package = workflow.submit(agent, wider)
    assert package.state == PackageState.IN_REVIEW
    # One of the dimensions the change re-opened (the others carry over).
    reopened = package.signoffs.filter(carried_over_from__isnull=True).first()
    workflow.decide(package, reopened.dimension)
    DriftFindingFactory(agent=agent, identifier="shell-" + "x" * 80)
    return package


def phone_page(browser, live_server, username, csp_violations):
    from tests.browser.conftest import watch_csp

    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    watch_csp(context, csp_violations)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button:has-text('Sign in')")
    page.wait_for_url(f"{live_server.url}/")
    return context, page


# The outermost elements reaching past the right edge outside any scrolling box.
OVERFLOWING = """() => {
  const clipped = e => { for (let a = e.parentElement; a; a = a.parentElement) {
    if (['auto', 'scroll', 'hidden'].includes(getComputedStyle(a).overflowX)) return true; }
    return false; };
  return [...document.querySelectorAll('body *')]
    .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1 && !clipped(e))
    .slice(0, 5).map(e => e.tagName.toLowerCase() + '.' + [...e.classList].join('.'));
}"""


def no_sideways_scroll(page, url: str) -> None:
    page.goto(url)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], (
        f"{url} is {width} px wide at {PHONE['width']} px: {page.evaluate(OVERFLOWING)}"
    )


def test_no_page_of_the_story_scrolls_sideways_at_390_px(
    story, browser, live_server, csp_violations, shots
):
    base = live_server.url
    slug, version = story.agent.slug, story.version
    pages = {
        "owner": [
            "/",
            "/agents/",
            "/packages/",
            "/packages/?state=in_review",
            f"/agents/{slug}/",
            f"/agents/{slug}/v{version}/",
            f"/agents/{slug}/v{version - 1}/",
            f"/agents/{slug}/packages/new/",
            f"/agents/{slug}/edit/",
            "/agents/new/",
            "/tokens/",
            "/audit/",
        ],
        "security1": [
            "/",
            "/packages/?pending=security",
            f"/agents/{slug}/v{version}/",
            f"/agents/{slug}/suspend/",
            "/audit/",
        ],
        "compliance1": ["/", "/audit/", "/audit/?since=notadate", f"/agents/{slug}/"],
    }
    for username, paths in pages.items():
        context, page = phone_page(browser, live_server, username, csp_violations)
        try:
            for path in paths:
                no_sideways_scroll(page, base + path)
            if username == "security1":
                # The queue's rows read as cards: each cell led by its column's name.
                page.goto(base + "/")
                cell = page.locator("#queue td[data-label='Waiting']").first
                expect(cell).to_be_visible()
                label = cell.evaluate("td => getComputedStyle(td, '::before').content")
                assert label == '"Waiting"'
                box = cell.bounding_box()
                assert box["x"] + box["width"] <= PHONE["width"]
                shots(page, "phone-dashboard-reviewer")
            if username == "compliance1":
                page.goto(base + "/audit/")
                # The first event's card starts where its table does, with no band above it.
                gap = page.evaluate(
                    "() => { const t = document.querySelector('#audit-events table');"
                    " return t.querySelector('tbody').getBoundingClientRect().top"
                    " - t.parentElement.getBoundingClientRect().top; }"
                )
                assert gap == 0
                shots(page, "phone-audit-log")
        finally:
            context.close()
