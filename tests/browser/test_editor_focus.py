"""A failed manifest upload moves focus to the error summary at the top."""

import pytest
from playwright.sync_api import expect

from tests.factories import AgentFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_failed_upload_focuses_the_summary_linking_the_control(people, sign_in, live_server):
    AgentFactory(slug="focus-agent", owners=[people["owner"]])
    page = sign_in("olivia")
    page.goto(f"{live_server.url}/agents/focus-agent/packages/new/")
    page.click("button:has-text('Upload manifest')")
    summary = page.get_by_test_id("error-summary")
    expect(summary).to_be_focused()
    summary.get_by_role("link", name="Manifest file").click()
    expect(page).to_have_url(
        f"{live_server.url}/agents/focus-agent/packages/upload/#id_manifest_file"
    )
