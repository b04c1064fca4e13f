"""The owner reads the agent's runtime usage and narrows to what was used, after confirming."""

import pytest

from agents.observations import observations_record
from audit.actors import Actor

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_owner_narrows_to_what_was_used(workflow, agent, sign_in, shots):
    approved = workflow.approve(agent)
    observations_record(
        actor=Actor.system("tests"),
        agent=agent,
        items=[
            {"kind": "action", "identifier": "ticket.create", "access": "write"},
            {"kind": "tool", "identifier": "shell", "access": "execute"},
        ],
    )
    page = sign_in("owner")
    page.goto(page.url.rstrip("/") + f"/agents/{agent.slug}/")
    usage = page.get_by_test_id("runtime-usage")
    usage.scroll_into_view_if_needed()
    assert usage.get_by_text("Never used").count() == 7
    shots(page, "agent-runtime-usage")
    usage.get_by_role("link", name="Narrow to what was used").click()
    assert page.get_by_test_id("narrow-removed").locator("li").count() == 7
    shots(page, "agent-narrow-confirm")
    page.get_by_role("button", name="Draft the narrowed version").click()
    page.wait_for_url(f"**/agents/{agent.slug}/v{approved.version + 1}/")
    assert agent.packages.get(version=approved.version + 1).entries.count() == 1
