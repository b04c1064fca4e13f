"""The package editor's numbers and their help text follow the manifest schema and the settings."""

import pytest
from django.conf import settings
from django.test import override_settings
from django.urls import reverse

from approvals.manifest.schema import SCHEMA, schema_fields
from web.forms import PackageForm
from web.forms.packages import FIELD_PATHS


def integer_fields() -> dict[str, dict]:
    """Return the schema's bounded integers the editor has a field for, by manifest path."""
    return {
        path: node
        for path, node in schema_fields(SCHEMA)
        if path in FIELD_PATHS and ("minimum" in node or "maximum" in node)
    }


def test_the_editors_integers_are_bounded_as_the_schema_bounds_them(monkeypatch):
    integers = integer_fields()
    assert set(integers) >= {"credentials.max_ttl_seconds", "logging.retention_days"}
    form = PackageForm()
    for path, node in integers.items():
        field = form.fields[FIELD_PATHS[path]]
        assert (field.min_value, field.max_value) == (node["minimum"], node["maximum"]), path
    assert "1 to 2,592,000" in form.fields["credentials__max_ttl_seconds"].help_text

    # The schema is the one definition: a bound changed there is the form's.
    monkeypatch.setitem(integers["logging.retention_days"], "maximum", 30)
    form = PackageForm({"logging__retention_days": "31"})
    field = form.fields["logging__retention_days"]
    assert field.max_value == 30
    assert field.help_text.startswith("1 to 30.")
    assert not form.is_valid()
    assert form.errors["logging__retention_days"] == [
        "Ensure this value is less than or equal to 30."
    ]


@pytest.mark.django_db
def test_the_kill_switch_help_names_the_settings_test_age(client, owner, agent, checklists):
    with override_settings(
        COUNTERSIGN={**settings.COUNTERSIGN, "KILL_SWITCH_TEST_MAX_AGE_DAYS": 30}
    ):
        help_text = str(PackageForm()["kill_switch__last_tested"].help_text)
        client.force_login(owner)
        page = client.get(reverse("package-new", args=[agent.slug])).content.decode()
    assert help_text.endswith("need a test within the last 30 days.")
    assert "within the last 30 days." in page
    assert "within the last 90 days." not in page
