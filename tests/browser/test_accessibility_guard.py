"""The axe-core guard of the browser tests fails the markup it is there to keep out."""

import pytest

from tests.browser.conftest import accessibility_problems

pytestmark = pytest.mark.browser

PAGE = """<!doctype html><html lang="en"><head><title>Flash</title></head>
<body><main><h1>Agents</h1>{flash}</main></body></html>"""
# A live region on the list itself hides the list from assistive technology.
LIST_AS_LIVE_REGION = '<ul class="messages" role="status"><li>Agent updated.</li></ul>'
# The frame's markup (templates/base.html): the live region wraps the list.
LIVE_REGION_AROUND_LIST = (
    '<div class="flash" role="status"><ul class="messages"><li>Agent updated.</li></ul></div>'
)


def problems_of(browser, flash: str) -> list[str]:
    page = browser.new_page()
    try:
        page.set_content(PAGE.format(flash=flash))
        return accessibility_problems(page)
    finally:
        page.close()


def test_a_list_made_a_live_region_is_a_serious_finding(browser):
    problems = problems_of(browser, LIST_AS_LIVE_REGION)
    assert any(problem.startswith("listitem (serious)") for problem in problems), problems


def test_the_live_region_around_the_list_passes(browser):
    assert problems_of(browser, LIVE_REGION_AROUND_LIST) == []
