"""The package editor is compact: the reference manifest fits well under 4,000 px at 1,280 px."""

import pytest
from playwright.sync_api import expect

from approvals.services import package_create
from audit.actors import Actor
from tests.factories import AgentFactory, manifest_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_editor_with_the_reference_manifest_is_compact(
    people, checklists, sign_in, live_server, shots
):
    agent = AgentFactory(slug="support-assistant", owners=[people["owner"]])
    package = package_create(
        actor=Actor.for_user(people["owner"]), agent=agent, manifest=manifest_for(agent)
    )
    page = sign_in("olivia")
    page.goto(f"{live_server.url}/agents/{agent.slug}/v{package.version}/edit/")
    expect(page.locator("#id_actions-0-id")).to_have_value("refund.issue")
    height = page.evaluate("() => document.documentElement.scrollHeight")
    print("HEIGHT", height)
    shots(page, "12-editor-reference-manifest")
    assert height < 3400
