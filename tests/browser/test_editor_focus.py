"""The editor keeps the keyboard focus where the user's attention is.

A refused upload or save moves the focus to the error summary at the top, which
names every failing field with a link that focuses it; adding a scope entry moves
the focus into the new entry, removing one to the entry that took its place.
"""

import pytest
from playwright.sync_api import expect

from approvals.models import ApprovalPackage
from tests.factories import AgentFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FOCUSED_ID = "() => document.activeElement && document.activeElement.id"


@pytest.fixture
def editor(people, checklists, sign_in, live_server):
    """Open the new-package editor of an agent with no package yet."""
    AgentFactory(slug="focus-agent", owners=[people["owner"]])
    page = sign_in("olivia")
    page.goto(f"{live_server.url}/agents/focus-agent/packages/new/")
    return page


def in_view(page, locator) -> bool:
    box = locator.bounding_box()
    return box is not None and 0 <= box["y"] < page.viewport_size["height"]


def test_a_failed_upload_focuses_the_summary_linking_the_control(editor, live_server, shots):
    page = editor
    page.click("button:has-text('Open in the editor')")
    summary = page.get_by_test_id("error-summary")
    expect(summary).to_be_focused()
    assert in_view(page, summary)
    expect(summary).to_contain_text("Choose a manifest file, or paste the manifest's text.")
    shots(page, "13-editor-empty-upload")
    summary.get_by_role("link", name="Manifest file").click()
    expect(page.locator("#id_manifest_file")).to_be_focused()
    expect(page).to_have_url(
        f"{live_server.url}/agents/focus-agent/packages/upload/#id_manifest_file"
    )
    assert not ApprovalPackage.objects.exists()


def test_an_empty_file_is_named_at_the_top(editor):
    page = editor
    page.set_input_files(
        "#id_manifest_file", {"name": "agent.yaml", "mimeType": "text/yaml", "buffer": b""}
    )
    page.click("button:has-text('Submit for review')")
    summary = page.get_by_test_id("error-summary")
    expect(summary).to_be_focused()
    assert in_view(page, summary)
    expect(summary).to_contain_text("The submitted file is empty.")
    assert not ApprovalPackage.objects.exists()


def test_a_pasted_manifest_with_problems_is_named_and_kept(editor):
    page = editor
    page.click("summary:has-text('paste')")
    page.fill("#id_manifest_text", "agent: focus-agent\nname: [unclosed\n")
    page.click("button:has-text('Open in the editor')")
    summary = page.get_by_test_id("error-summary")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("invalid YAML")
    summary.get_by_role("link", name="Manifest text").click()
    expect(page.locator("#id_manifest_text")).to_be_focused()
    expect(page.locator("#id_manifest_text")).to_have_value("agent: focus-agent\nname: [unclosed\n")


def test_the_editor_summary_names_every_failing_field_and_takes_the_focus(editor, shots):
    page = editor
    page.locator("#scope-tools button[name=add_row]").click()
    expect(page.locator("#id_tools-0-id")).to_be_focused()
    page.keyboard.type("kb search")  # a space is not allowed in an identifier
    page.click("button:has-text('Save and submit for review')")
    summary = page.get_by_test_id("error-summary")
    expect(summary).to_be_focused()
    assert in_view(page, summary)
    links = summary.get_by_role("link")
    failing = page.locator("#package-form .has-error :is(input, select, textarea)")
    # Each failing field once in the summary, in page order, and nothing else.
    targets = [link.get_attribute("href").lstrip("#") for link in links.all()]
    assert targets == [field.get_attribute("id") for field in failing.all()]
    assert len(targets) >= 10 and "id_tools-0-id" in targets
    expect(summary.locator("h2")).to_contain_text(f"{len(targets)} problems")
    shots(page, "14-editor-error-summary")
    # A link takes the keyboard focus into its field.
    summary.get_by_role("link", name="Tools entry 1: Identifier").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#id_tools-0-id")).to_be_focused()
    expect(page.locator("#id_tools-0-id")).to_have_value("kb search")
    assert not ApprovalPackage.objects.exists()


def test_adding_an_entry_moves_the_focus_into_it(editor):
    page = editor
    add = page.locator("#scope-datasets button[name=add_row]")
    add.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#id_datasets-0-id")).to_be_focused()
    page.keyboard.type("crm.customers")
    # Back to the add button by keyboard: shift-tab past the row's header.
    page.locator("#scope-datasets button[name=add_row]").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#id_datasets-1-id")).to_be_focused()
    expect(page.locator("#id_datasets-0-id")).to_have_value("crm.customers")
    page.keyboard.type("orders.history")


def test_removing_an_entry_moves_the_focus_to_the_next_one_or_the_add_button(editor):
    page = editor
    for index, name in enumerate(["first", "second"]):
        page.locator("#scope-tools button[name=add_row]").click()
        expect(page.locator(f"#id_tools-{index}-id")).to_be_focused()
        page.keyboard.type(name)
    page.get_by_role("button", name="Remove tools entry 1").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#id_tools-0-id")).to_be_focused()
    expect(page.locator("#id_tools-0-id")).to_have_value("second")
    page.get_by_role("button", name="Remove tools entry 1").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#scope-tools button[name=add_row]")).to_be_focused()
    expect(page.locator("#scope-tools .scope-row")).to_have_count(0)


def test_without_javascript_an_added_entry_takes_the_focus_too(
    browser, live_server, people, checklists
):
    from tests.browser.test_progressive import open_page

    AgentFactory(slug="plain-agent", owners=[people["owner"]])
    context, page = open_page(browser, live_server, "olivia", javascript=False)
    try:
        page.goto(f"{live_server.url}/agents/plain-agent/packages/new/")
        page.locator("#scope-actions button[name=add_row]").click()
        expect(page.locator("#id_actions-0-id")).to_be_focused()
    finally:
        context.close()
