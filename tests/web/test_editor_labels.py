"""The package editor labels each manifest field by its title in the schema: one name per field,
the one the review reasons and the diffs use."""

import pytest
from django.urls import reverse

from approvals import manifest as m
from tests.web.dom import parse
from web.forms.packages import FIELD_PATHS, UNITS, PackageForm
from web.forms.scope import ScopeEditor, ScopeEntryForm

pytestmark = pytest.mark.django_db

ENTRY = f"scope.{m.SCOPE_KINDS[0]}[]."


def label_of(title: str) -> str:
    return title[0].upper() + title[1:]


@pytest.mark.parametrize("path", sorted(FIELD_PATHS))
def test_every_field_of_the_editor_is_labelled_by_its_schema_title(path):
    label = PackageForm().fields[FIELD_PATHS[path]].label
    title = label_of(m.TITLES[path])
    assert label == (f"{title} ({UNITS[path]})" if path in UNITS else title)


@pytest.mark.parametrize("name", list(ScopeEntryForm.base_fields))
def test_every_column_of_the_scope_table_is_labelled_by_its_schema_title(name):
    assert ScopeEntryForm().fields[name].label == label_of(m.TITLES[ENTRY + name])


def test_the_editor_edits_every_schema_field_and_only_those():
    outside_scope = {path for path in m.TITLES if not path.startswith("scope.")}
    assert set(FIELD_PATHS) == outside_scope - {"agent"}  # the agent is the page's own
    entry_fields = {path.removeprefix(ENTRY) for path in m.TITLES if path.startswith(ENTRY)}
    assert set(ScopeEntryForm.base_fields) == entry_fields
    assert set(UNITS) <= set(FIELD_PATHS)


def test_the_page_shows_the_schema_titles_as_labels(client, agent, owner):
    client.force_login(owner)
    page = parse(client.get(reverse("package-new", args=[agent.slug])).content)
    labels = {
        label.attrs["for"]: label.text()
        for label in page.find_all("label")
        if label.attrs.get("for", "").startswith("id_")
    }
    assert labels["id_credentials__revocation"].startswith("Credential revocation procedure")
    assert labels["id_kill_switch__max_minutes_to_revoke"].startswith(
        "Kill-switch time to revoke (minutes)"
    )
    assert labels["id_chaining__allowed"] == "Permission to chain actions"
    columns = [label for label, _, _ in ScopeEditor.from_manifest(None).columns()]
    assert columns == [label_of(m.TITLES[ENTRY + name]) for name in ScopeEntryForm.base_fields]
    assert "Data classification" in page.text() and "Privileged flag" in page.text()
