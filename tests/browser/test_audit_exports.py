"""Filtering the audit page in place carries the filters into the export links."""

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_export_links_follow_an_in_place_filter(people, sign_in, live_server):
    page = sign_in("carla")
    page.goto(f"{live_server.url}/audit/")
    page.fill("#id_action", "package.approved")
    page.fill("#id_agent", "benefits-copilot")
    page.click("button:has-text('Filter')")
    expect(page).to_have_url(
        f"{live_server.url}/audit/?agent=benefits-copilot&actor=&action=package.approved&since=&until="
    )
    query = "?agent=benefits-copilot&action=package.approved"
    expect(page.get_by_role("link", name="Export CSV")).to_have_attribute(
        "href", f"/audit/export.csv{query}"
    )
    expect(page.get_by_role("link", name="Export JSON Lines")).to_have_attribute(
        "href", f"/audit/export.jsonl{query}"
    )
