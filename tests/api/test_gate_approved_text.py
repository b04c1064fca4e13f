"""The gate knows the text an approved version was created from, and only that text."""

import json

import pytest

from approvals import manifest as manifests
from approvals.manifest import canonical
from approvals.models import PackageState
from approvals.services import agent_suspend, package_update_draft
from audit.actors import Actor
from tests.api.conftest import GATE, check_yaml, text_of, yaml_of
from tests.factories import manifest_for

pytestmark = pytest.mark.django_db


def test_the_approved_text_is_checked_by_its_digest_without_being_parsed(
    ci, workflow, agent, parses, audit_since
):
    text = text_of(agent)
    approved = workflow.approve(agent, text)
    assert approved.source_digest == manifests.source_digest(text, "application/yaml")
    since = audit_since()
    answer = check_yaml(ci, agent, text)
    assert (answer["decision"], answer["digest"]) == ("allow", approved.digest)
    assert parses == []
    (event,) = since()
    assert event.data == {"decision": "allow", "reasons": [], "requested_digest": approved.digest}
    # Any other text is read in full, even one meaning the same.
    assert check_yaml(ci, agent, "# reformatted\n" + text)["decision"] == "allow"
    assert parses == ["application/yaml"]


def test_the_approved_text_still_denies_for_every_other_reason(ci, workflow, agent, staff, parses):
    text = text_of(agent)
    workflow.approve(agent, text)
    agent_suspend(actor=Actor.for_user(staff), agent=agent, reason="Incident 7.")
    answer = check_yaml(ci, agent, text)
    assert answer["decision"] == "deny"
    assert "agent_suspended" in [r["code"] for r in answer["reasons"]]
    assert parses == []


def test_an_older_approved_text_is_compared_in_full_with_the_last_approved_version(
    ci, workflow, agent, parses
):
    wide = text_of(agent)
    workflow.approve(agent, wide)
    narrow = manifest_for(agent)
    narrow["scope"]["datasets"].pop()
    # A pure narrowing carries the approved version's sign-offs: approved on submission.
    narrowed = workflow.submit(agent, yaml_of(narrow))
    assert narrowed.state == PackageState.APPROVED
    answer = check_yaml(ci, agent, wide)
    assert (answer["decision"], [r["code"] for r in answer["reasons"]]) == (
        "deny",
        ["scope_mismatch"],
    )
    assert parses == ["application/yaml"]


def test_an_edit_replaces_the_source_digest(workflow, agent, owner):
    draft = workflow.create(agent, text_of(agent))
    assert draft.source_digest == manifests.source_digest(text_of(agent), None)
    as_mapping = json.loads(json.dumps(manifest_for(agent)))
    edited = package_update_draft(actor=Actor.for_user(owner), package=draft, manifest=as_mapping)
    edited.refresh_from_db()
    assert edited.source_digest == manifests.source_digest(as_mapping, "application/json")
    other = text_of(agent, description="Edited.")
    edited = package_update_draft(actor=Actor.for_user(owner), package=edited, manifest=other)
    edited.refresh_from_db()
    assert edited.source_digest == manifests.source_digest(other, None)


def test_the_approved_json_object_is_checked_by_its_digest_in_any_key_order(
    ci, workflow, agent, parses
):
    doc = json.loads(json.dumps(manifest_for(agent)))
    approved = workflow.approve(agent, doc)
    reordered = dict(reversed(list(doc.items())))
    response = ci.post(GATE, {"agent": agent.slug, "manifest": reordered}, format="json")
    assert (response.json()["decision"], response.json()["digest"]) == ("allow", approved.digest)
    assert parses == []
    narrowed = json.loads(json.dumps(doc))
    narrowed["scope"]["datasets"].pop()
    response = ci.post(GATE, {"agent": agent.slug, "manifest": narrowed}, format="json")
    assert response.json()["decision"] == "allow"
    assert parses == ["application/json"], "any other object is read in full"


def test_a_source_digest_depends_on_the_text_how_it_is_read_and_what_reads_it(monkeypatch):
    text = '{"agent": "a"}'
    as_yaml = manifests.source_digest(text, "application/yaml")
    assert as_yaml == manifests.source_digest(text, None)
    assert as_yaml != manifests.source_digest(text, "application/json")
    assert as_yaml != manifests.source_digest(text + " ", "application/yaml")
    as_object = manifests.source_digest({"agent": "a"}, "application/json")
    assert as_object not in ("", as_yaml, manifests.source_digest(text, "application/json"))
    assert as_object == manifests.source_digest({"agent": "a"}, None), "a mapping is a mapping"
    assert manifests.source_digest({"agent": float("nan")}) == "", "not plain JSON"
    monkeypatch.setattr(canonical, "SOURCE_FINGERPRINT", "another schema or parser")
    assert manifests.source_digest(text, "application/yaml") != as_yaml
