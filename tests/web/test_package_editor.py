"""The package editor: every manifest field through the form, errors beside fields, upload."""

import json
import re
from urllib.parse import urlencode

import pytest
import yaml
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from approvals.manifest import SCOPE_KINDS, load_manifest
from approvals.models import ApprovalPackage, PackageState
from tests.factories import manifest_for
from web.forms import entry_initial, manifest_initial

pytestmark = pytest.mark.django_db

FORM_ENCODED = "application/x-www-form-urlencoded"


def editor_data(manifest, **overrides):
    """Return the POST data the editor sends for a manifest, as a browser would."""
    data = {}
    for name, value in manifest_initial(manifest).items():
        if value is None or value is False:
            continue
        data[name] = "on" if value is True else str(value)
    for kind in SCOPE_KINDS:
        for index, entry in enumerate(manifest.get("scope", {}).get(kind, [])):
            for field, value in entry_initial(entry).items():
                if value in (None, False, ""):
                    continue
                data[f"{kind}-{index}-{field}"] = "on" if value is True else str(value)
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def as_yaml(manifest) -> bytes:
    return yaml.safe_dump(json.loads(json.dumps(manifest))).encode()


def new_url(agent):
    return reverse("package-new", args=[agent.slug])


def test_every_field_round_trips_through_the_editor(client, owner, agent, checklists, audit_since):
    manifest = manifest_for(agent)
    client.force_login(owner)
    assert client.get(new_url(agent)).status_code == 200
    since = audit_since()
    response = client.post(new_url(agent), editor_data(manifest, then="draft"))
    package = ApprovalPackage.objects.get(agent=agent)
    assert response.status_code == 302
    assert response["Location"] == reverse("package-edit", args=[agent.slug, package.version])
    assert package.state == PackageState.DRAFT
    assert package.manifest == load_manifest(manifest)
    assert [(e.action, e.actor_label) for e in since()] == [("package.created", "owner")]
    # The draft's editor shows the same values back.
    response = client.get(response["Location"])
    assert response.context["form"].initial == manifest_initial(package.manifest)


def test_service_errors_are_shown_beside_their_fields(client, owner, agent, checklists):
    manifest = manifest_for(agent)
    data = editor_data(
        manifest,
        **{
            "model__prompt_digest": "sha256:not-hex",
            "rollback__plan": None,
            "tools-0-id": "kb search",
        },
    )
    client.force_login(owner)
    response = client.post(new_url(agent), data)
    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors["model__prompt_digest"] == [
        "must be 'sha256:' followed by 64 lowercase hex digits"
    ]
    assert form.errors["rollback__plan"] == ["is required"]
    tools = response.context["scope"].rows["tools"]
    assert tools[0].errors["id"], tools[0].errors
    html = response.content.decode()
    assert "is required" in html and "Not saved" in html
    assert not ApprovalPackage.objects.exists()


def test_a_kill_switch_test_date_in_the_future_is_shown_beside_its_field(
    client, owner, agent, checklists
):
    data = editor_data(manifest_for(agent), kill_switch__last_tested="2099-12-31")
    client.force_login(owner)
    response = client.post(new_url(agent), data)
    assert response.status_code == 200
    (message,) = response.context["form"].errors["kill_switch__last_tested"]
    assert message.startswith("must not be in the future")
    assert not ApprovalPackage.objects.exists()


def test_invalid_constraints_json_is_shown_on_its_row(client, owner, agent, checklists):
    data = editor_data(manifest_for(agent), **{"actions-0-constraints": "{not json"})
    client.force_login(owner)
    response = client.post(new_url(agent), data)
    assert response.status_code == 200
    row = response.context["scope"].rows["actions"][0]
    assert row.errors["constraints"][0].startswith("Not valid JSON")
    assert not ApprovalPackage.objects.exists()


def test_constraints_nested_past_the_parser_are_shown_on_their_row(
    client, owner, agent, checklists
):
    deep = "[" * 50_000 + "]" * 50_000
    data = editor_data(manifest_for(agent), **{"actions-0-constraints": deep})
    client.force_login(owner)
    response = client.post(new_url(agent), data)
    assert response.status_code == 200
    row = response.context["scope"].rows["actions"][0]
    assert row.errors["constraints"] == ["Not valid JSON: nested too deeply."]
    assert not ApprovalPackage.objects.exists()


@pytest.mark.parametrize("index", ["9" * 5000, "0" * 5000, "²"])
def test_a_posted_row_the_page_never_draws_is_ignored(
    client, owner, agent, checklists, audit_since, index
):
    manifest = manifest_for(agent)
    data = editor_data(manifest, **{f"tools-{index}-id": "smuggled-tool"})
    client.force_login(owner)
    since = audit_since()
    # Form-encoded, as the editor's form posts: a multipart part's header refuses a long name.
    response = client.post(new_url(agent), urlencode(data), content_type=FORM_ENCODED)
    assert response.status_code == 302
    package = ApprovalPackage.objects.get(agent=agent)
    assert package.manifest == load_manifest(manifest)
    assert "smuggled-tool" not in json.dumps(package.manifest)
    assert [e.action for e in since()] == ["package.created"]


def test_scope_rows_are_added_and_removed_without_saving(client, owner, agent, checklists):
    manifest = manifest_for(agent)
    tools = len(manifest["scope"]["tools"])
    client.force_login(owner)
    added = client.post(new_url(agent), editor_data(manifest, add_row="tools"))
    assert added.status_code == 200
    assert len(added.context["scope"].rows["tools"]) == tools + 1
    removed = client.post(new_url(agent), editor_data(manifest, remove_row="tools-0"))
    rows = removed.context["scope"].rows["tools"]
    assert len(rows) == tools - 1
    kept = [row.data[f"tools-{i}-id"] for i, row in enumerate(rows)]
    assert kept == [entry["id"] for entry in manifest["scope"]["tools"][1:]]
    assert not ApprovalPackage.objects.exists()


def test_htmx_add_row_answers_with_the_page_holding_the_new_row(client, owner, agent, checklists):
    client.force_login(owner)
    response = client.post(
        new_url(agent),
        editor_data(manifest_for(agent), add_row="datasets"),
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    rows = len(manifest_for(agent)["scope"]["datasets"])
    assert f'name="datasets-{rows}-id"' in response.content.decode()


def test_each_kinds_add_button_names_one_entry_of_it(client, owner, agent, checklists):
    """The buttons read as the guide names them: "+ Add tool entry", not "+ Add tools entry"."""
    client.force_login(owner)
    manifest = manifest_for(agent)
    manifest["scope"]["external_apis"] = []
    page = client.post(new_url(agent), editor_data(manifest, add_row="tools")).content.decode()
    buttons = re.findall(r'name="add_row" value="(\w+)"[^>]*>([^<]*)</button>', page, re.S)
    assert dict(buttons) == {
        "actions": "+ Add action entry",
        "tools": "+ Add tool entry",
        "datasets": "+ Add dataset entry",
        "endpoints": "+ Add endpoint entry",
        "external_apis": "+ Add external API entry",
    }
    assert "No external API entries." in page


def test_save_and_submit(client, owner, agent, checklists):
    client.force_login(owner)
    response = client.post(new_url(agent), editor_data(manifest_for(agent), then="submit"))
    package = ApprovalPackage.objects.get(agent=agent)
    assert package.state == PackageState.IN_REVIEW
    assert response["Location"] == package.get_absolute_url()
    assert package.signoffs.count() == 4


def test_updating_a_draft(client, owner, agent, workflow):
    draft = workflow.create(agent)
    manifest = manifest_for(agent)
    url = reverse("package-edit", args=[agent.slug, draft.version])
    client.force_login(owner)
    response = client.post(
        url, editor_data(manifest, **{"kill_switch__max_minutes_to_revoke": "3"})
    )
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.manifest["kill_switch"]["max_minutes_to_revoke"] == 3
    assert ApprovalPackage.objects.filter(agent=agent).count() == 1


def test_submitted_package_is_not_editable(client, owner, agent, workflow):
    package = workflow.submit(agent)
    client.force_login(owner)
    url = reverse("package-edit", args=[agent.slug, package.version])
    response = client.post(url, editor_data(manifest_for(agent)))
    assert response.status_code == 302
    assert response["Location"] == package.get_absolute_url()
    package.refresh_from_db()
    assert package.state == PackageState.IN_REVIEW


def test_upload_a_manifest_file(client, owner, agent, checklists):
    text = as_yaml(manifest_for(agent))
    client.force_login(owner)
    response = client.post(
        reverse("package-upload", args=[agent.slug]),
        {"manifest_file": SimpleUploadedFile("agent.yaml", text)},
    )
    package = ApprovalPackage.objects.get(agent=agent)
    assert response.status_code == 302
    assert package.manifest == load_manifest(text)


def test_upload_errors_name_the_field(client, owner, agent, checklists):
    manifest = manifest_for(agent)
    manifest["credentials"]["max_ttl_seconds"] = "soon"
    client.force_login(owner)
    response = client.post(
        reverse("package-upload", args=[agent.slug]),
        {"manifest_file": SimpleUploadedFile("agent.yaml", as_yaml(manifest))},
    )
    assert response.status_code == 400
    paths = dict(response.context["errors"])
    assert "credentials.max_ttl_seconds" in paths
    assert not ApprovalPackage.objects.exists()


def test_clone_the_approved_version_into_a_new_draft(client, owner, agent, workflow):
    approved = workflow.approve(agent)
    client.force_login(owner)
    response = client.post(reverse("package-clone", args=[agent.slug, approved.version]))
    clone = ApprovalPackage.objects.get(agent=agent, version=approved.version + 1)
    assert response["Location"] == reverse("package-edit", args=[agent.slug, clone.version])
    assert clone.state == PackageState.DRAFT
    assert clone.digest == approved.digest


def test_reviewers_and_other_teams_cannot_write_packages(
    client, agent, reviewers, other_owner, checklists
):
    data = editor_data(manifest_for(agent))
    client.force_login(reviewers["security"][0])
    assert client.get(new_url(agent)).status_code == 403
    assert client.post(new_url(agent), data).status_code == 403
    client.force_login(other_owner)
    assert client.post(new_url(agent), data).status_code == 404
    assert not ApprovalPackage.objects.exists()


def upload_url(agent):
    return reverse("package-upload", args=[agent.slug])


def test_pasted_manifest_text_becomes_a_draft_with_the_files_digest(
    client, owner, agent, checklists
):
    text = as_yaml(manifest_for(agent)).decode()
    client.force_login(owner)
    # A browser sends a text area's line breaks as CRLF.
    response = client.post(upload_url(agent), {"manifest_text": text.replace("\n", "\r\n")})
    package = ApprovalPackage.objects.get(agent=agent)
    assert response["Location"] == reverse("package-edit", args=[agent.slug, 1])
    assert package.state == PackageState.DRAFT
    assert package.manifest == load_manifest(text)
    client.post(upload_url(agent), {"manifest_file": SimpleUploadedFile("a.yaml", text.encode())})
    from_file = ApprovalPackage.objects.get(agent=agent, version=2)
    assert from_file.source_digest == package.source_digest


def test_an_uploaded_manifest_may_go_to_review_at_once(client, owner, agent, checklists):
    text = as_yaml(manifest_for(agent))
    client.force_login(owner)
    response = client.post(
        upload_url(agent),
        {"manifest_file": SimpleUploadedFile("agent.yaml", text), "then": "submit"},
    )
    package = ApprovalPackage.objects.get(agent=agent)
    assert package.state == PackageState.IN_REVIEW
    assert response["Location"] == package.get_absolute_url()


def test_an_upload_without_a_manifest_or_with_two_is_refused(client, owner, agent, checklists):
    client.force_login(owner)
    response = client.post(upload_url(agent), {"manifest_text": "  \n"})
    assert response.status_code == 400
    assert response.context["upload"].errors == {
        "manifest_file": ["Choose a manifest file, or paste the manifest's text."]
    }
    text = as_yaml(manifest_for(agent))
    response = client.post(
        upload_url(agent),
        {"manifest_file": SimpleUploadedFile("a.yaml", text), "manifest_text": text.decode()},
    )
    assert response.status_code == 400
    assert response.context["upload"].errors == {
        "manifest_text": ["Give the manifest once: a file or pasted text, not both."]
    }
    assert not ApprovalPackage.objects.exists()


def test_an_upload_replaces_the_draft_its_version_names(client, owner, agent, workflow):
    draft = workflow.create(agent)
    manifest = manifest_for(agent)
    manifest["kill_switch"]["max_minutes_to_revoke"] = 3
    client.force_login(owner)
    response = client.post(
        upload_url(agent), {"manifest_text": as_yaml(manifest).decode(), "version": draft.version}
    )
    assert response["Location"] == reverse("package-edit", args=[agent.slug, draft.version])
    draft.refresh_from_db()
    assert draft.manifest["kill_switch"]["max_minutes_to_revoke"] == 3
    assert ApprovalPackage.objects.filter(agent=agent).count() == 1


@pytest.mark.parametrize(
    ("version", "status", "why"),
    [
        ("²", 400, "Enter a whole number."),
        ("9" * 5000, 400, "Enter a whole number."),
        ("0", 400, "greater than or equal to 1"),
        ("-1", 400, "greater than or equal to 1"),
        ("1.5", 400, "Enter a whole number."),
        ("abc", 400, "Enter a whole number."),
        ("\x00", 400, "Enter a whole number."),
        # Whole numbers that name no version of the agent.
        ("99", 404, ""),
        ("99999999999999999999", 404, ""),
    ],
)
def test_an_upload_naming_no_version_is_refused_and_changes_nothing(
    client, owner, agent, workflow, audit_since, version, status, why
):
    draft = workflow.create(agent)
    before = draft.manifest
    manifest = manifest_for(agent)
    manifest["kill_switch"]["max_minutes_to_revoke"] = 3
    client.force_login(owner)
    since = audit_since()
    response = client.post(
        upload_url(agent), {"manifest_text": as_yaml(manifest).decode(), "version": version}
    )
    assert response.status_code == status
    if status == 400:
        error = response.context["error"]
        assert list(error.fields) == ["version"] and why in error.fields["version"][0]
        assert error.message.startswith("version: ")
    draft.refresh_from_db()
    assert draft.manifest == before
    assert ApprovalPackage.objects.filter(agent=agent).count() == 1
    assert since() == []


def test_pasted_text_with_problems_shows_them_beside_the_text(client, owner, agent, checklists):
    manifest = manifest_for(agent)
    manifest["logging"]["retention_days"] = "forever"
    client.force_login(owner)
    response = client.post(upload_url(agent), {"manifest_text": as_yaml(manifest).decode()})
    assert response.status_code == 400
    errors = response.context["upload"].errors
    assert list(errors) == ["manifest_text"]
    assert errors["manifest_text"][0].startswith("logging.retention_days")
    html = response.content.decode()
    assert "the manifest text has" in html
    assert "forever" in html  # the text is kept to be corrected
    assert not ApprovalPackage.objects.exists()


def test_adding_or_removing_an_entry_marks_where_the_focus_goes(client, owner, agent, checklists):
    manifest = manifest_for(agent)
    client.force_login(owner)
    added = client.post(new_url(agent), editor_data(manifest, add_row="tools"))
    tools = added.context["scope"].rows["tools"]
    assert [row["id"].field.widget.attrs.get("autofocus") for row in tools] == [None, None, True]
    html = added.content.decode()
    assert re.findall(r'<input [^>]*name="([^"]+)"[^>]* autofocus', html) == ["tools-2-id"]
    assert html.count(" autofocus") == 1
    removed = client.post(new_url(agent), editor_data(manifest, remove_row="tools-0"))
    tools = removed.context["scope"].rows["tools"]
    assert [row["id"].field.widget.attrs.get("autofocus") for row in tools] == [True]
    only = {**editor_data(manifest, remove_row="endpoints-0")}
    removed = client.post(new_url(agent), only)
    assert removed.context["scope"].focus_add == "endpoints"
    html = removed.content.decode()
    assert html.count(" autofocus") == 1
    assert 'value="endpoints" formnovalidate autofocus' in html


def test_a_value_yaml_cannot_build_is_shown_beside_the_text_with_its_line(
    client, owner, agent, checklists
):
    text = (
        as_yaml(manifest_for(agent))
        .decode()
        .replace("max_ttl_seconds: 900", "max_ttl_seconds: !!int x")
    )
    line = next(n for n, row in enumerate(text.splitlines(), 1) if "!!int x" in row)
    client.force_login(owner)
    response = client.post(upload_url(agent), {"manifest_text": text})
    assert response.status_code == 400
    (message,) = response.context["upload"].errors["manifest_text"]
    assert message.startswith("manifest: invalid YAML: 'x' is not a valid int")
    assert f"(line {line}, column " in message
    assert not ApprovalPackage.objects.exists()


def test_a_lone_surrogate_escaped_in_a_json_file_is_named_on_its_field(
    client, owner, agent, checklists
):
    manifest = json.loads(json.dumps(manifest_for(agent)))
    manifest["name"] = "Support \ud800"
    upload = SimpleUploadedFile("agent.json", json.dumps(manifest).encode())
    client.force_login(owner)
    response = client.post(upload_url(agent), {"manifest_file": upload})
    assert response.status_code == 400
    assert dict(response.context["errors"]) == {
        "name": "must not contain \\ud800, half of a UTF-16 pair without its other half"
    }
    assert not ApprovalPackage.objects.exists()


@pytest.mark.parametrize(
    ("constraints", "message"),
    [
        ('{"max": "\\udfff"}', "must not contain \\udfff, half of a UTF-16 pair"),
        ('{"max": ' + "9" * 5000 + "}", "Not valid JSON: a number has more than 4300 digits."),
    ],
)
def test_constraints_no_manifest_can_hold_are_shown_on_their_row(
    client, owner, agent, checklists, audit_since, constraints, message
):
    data = editor_data(manifest_for(agent), **{"actions-0-constraints": constraints})
    client.force_login(owner)
    since = audit_since()
    response = client.post(new_url(agent), data)
    assert response.status_code == 200
    row = response.context["scope"].rows["actions"][0]
    assert message in row.errors["constraints"][0]
    assert message in response.content.decode()
    assert not ApprovalPackage.objects.exists()
    assert since() == []
