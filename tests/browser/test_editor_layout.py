"""The package editor is compact and aligned: the reference manifest's draft at 1,280 px."""

import pytest
from playwright.sync_api import expect

from approvals.services import package_create
from audit.actors import Actor
from tests.factories import AgentFactory, manifest_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The left edge of every control in every scope row, by column, and its top, by row.
CONTROL_EDGES = """() => [...document.querySelectorAll("#scope-editor .scope-row")].map(row =>
  [...row.querySelectorAll("input:not([type=hidden]), select, button")].map(control => {
    const box = control.getBoundingClientRect();
    return [Math.round(box.left), Math.round(box.top + box.height / 2)];
  }))"""


@pytest.fixture
def draft_page(people, checklists, sign_in, live_server):
    agent = AgentFactory(slug="support-assistant", owners=[people["owner"]])
    package = package_create(
        actor=Actor.for_user(people["owner"]), agent=agent, manifest=manifest_for(agent)
    )
    page = sign_in("olivia")
    page.goto(f"{live_server.url}/agents/{agent.slug}/v{package.version}/edit/")
    expect(page.locator("#id_actions-0-id")).to_have_value("refund.issue")
    return page


def test_the_reference_manifest_fits_well_under_4000_px(draft_page, shots):
    assert draft_page.viewport_size["width"] == 1280
    height = draft_page.evaluate("() => document.documentElement.scrollHeight")
    assert height < 3500, height
    shots(draft_page, "12-editor-reference-manifest")


def test_scope_entries_line_up_in_rows_and_columns(draft_page):
    rows = draft_page.evaluate(CONTROL_EDGES)
    # The reference manifest has eight entries, each one line of eight controls.
    assert len(rows) == 8
    assert all(len(row) == 8 for row in rows)
    for row in rows:
        middles = {middle for _, middle in row}
        assert max(middles) - min(middles) <= 2, row
    for column in range(8):
        lefts = {row[column][0] for row in rows}
        assert max(lefts) - min(lefts) <= 1, (column, lefts)
