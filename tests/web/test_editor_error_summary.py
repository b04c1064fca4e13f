"""The package editor's error summary: at the top, focused, one link per failing field."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tests.factories import manifest_for
from tests.web.test_package_editor import as_yaml, editor_data

pytestmark = pytest.mark.django_db


def summary_of(html: str) -> str:
    match = re.search(r'<div class="callout bad error-summary"([^>]*)>(.*?)</div>', html, re.S)
    assert match, "no error summary"
    attributes, body = match.groups()
    assert 'tabindex="-1"' in attributes and "autofocus" in attributes
    assert html.index("error-summary") < html.index('id="package-form"')
    return body


def upload_section(html: str) -> str:
    return html.split('id="upload"', 1)[1]


def test_an_empty_upload_is_named_at_the_top_and_beside_the_control(client, owner, agent):
    client.force_login(owner)
    response = client.post(
        reverse("package-upload", args=[agent.slug]),
        {"manifest_file": SimpleUploadedFile("agent.yaml", b"")},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert '<a href="#id_manifest_file">Manifest file</a>: The submitted file is empty.' in (
        summary_of(html)
    )
    beside = upload_section(html)
    assert 'id="id_manifest_file"' in beside and "The submitted file is empty." in beside


def test_a_manifest_files_problems_show_beside_the_upload_control(client, owner, agent, checklists):
    manifest = manifest_for(agent)
    manifest["credentials"]["max_ttl_seconds"] = "soon"
    client.force_login(owner)
    response = client.post(
        reverse("package-upload", args=[agent.slug]),
        {"manifest_file": SimpleUploadedFile("agent.yaml", as_yaml(manifest))},
    )
    html = response.content.decode()
    assert '<a href="#id_manifest_file">Manifest file</a>: credentials.max_ttl_seconds' in (
        summary_of(html)
    )
    assert "credentials.max_ttl_seconds" in upload_section(html)


def post_editor(client, agent, **overrides):
    data = editor_data(manifest_for(agent), then="draft", **overrides)
    response = client.post(reverse("package-new", args=[agent.slug]), data)
    html = response.content.decode()
    links = re.findall(r'<li><a href="#([^"]+)">([^<]+)</a>', summary_of(html))
    anchors = {anchor for anchor, _ in links}
    for anchor in anchors:
        assert f'id="{anchor}"' in html
    return response, anchors


def test_the_editor_summary_links_every_failing_field(client, owner, agent, checklists):
    client.force_login(owner)
    response, anchors = post_editor(
        client, agent, justification="", rollback__plan=None, model__prompt_digest="nope"
    )
    assert {"id_justification", "id_rollback__plan", "id_model__prompt_digest"} <= anchors
    failing = {field.auto_id for field in response.context["form"] if field.errors}
    assert failing == anchors
    response, anchors = post_editor(client, agent, **{"tools-0-constraints": "{not json"})
    assert anchors == {"id_tools-0-constraints"}
