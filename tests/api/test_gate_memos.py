"""The gate reads a manifest text, and compares a scope, once; it decides every check afresh."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from approvals.models import PackageState
from approvals.services import agent_suspend
from audit.actors import Actor
from tests.api.conftest import check_yaml, codes, text_of, yaml_of
from tests.factories import manifest_for

pytestmark = pytest.mark.django_db


def manifest_reads(queries) -> list[str]:
    return [q["sql"] for q in queries if '"approvals_approvalpackage"."manifest"' in str(q["sql"])]


def test_a_text_read_once_is_decided_against_the_version_approved_now(
    ci, workflow, agent, staff, parses
):
    wide = text_of(agent)
    workflow.approve(agent, wide)
    local = "# the pipeline's own copy\n" + wide
    assert check_yaml(ci, agent, local)["decision"] == "allow"
    assert check_yaml(ci, agent, local)["decision"] == "allow"
    assert parses == ["application/yaml"], "the same text is read once"

    narrow = manifest_for(agent)
    dropped = narrow["scope"]["datasets"].pop()
    narrowed = workflow.submit(agent, yaml_of(narrow))
    assert narrowed.state == PackageState.APPROVED
    answer = check_yaml(ci, agent, local)
    assert (answer["decision"], codes(answer)) == ("deny", ["scope_mismatch"])
    assert answer["package_version"] == narrowed.version
    assert {change["identifier"] for change in answer["reasons"][0]["expansions"]} == {
        dropped["id"]
    }
    assert parses == ["application/yaml"], "read once, compared with the new approval"

    agent_suspend(actor=Actor.for_user(staff), agent=agent, reason="Incident 9.")
    assert "agent_suspended" in codes(check_yaml(ci, agent, yaml_of(narrow)))


def test_a_comparison_is_made_once_and_answered_the_same(ci, workflow, agent):
    workflow.approve(agent)
    wider = manifest_for(agent)
    wider["scope"]["tools"].append({"id": "shell", "access": "execute"})
    text = yaml_of(wider)
    with CaptureQueriesContext(connection) as first:
        denied = check_yaml(ci, agent, text)
    with CaptureQueriesContext(connection) as again:
        assert check_yaml(ci, agent, text) == denied
    assert codes(denied) == ["scope_mismatch"]
    assert [c["identifier"] for c in denied["reasons"][0]["expansions"]] == ["shell"]
    assert len(manifest_reads(first)) == 1
    assert manifest_reads(again) == [], "the approved manifest is not read again"


def test_an_invalid_text_is_read_and_denied_every_time(ci, workflow, agent, parses):
    workflow.approve(agent)
    broken = text_of(agent) + "scope: [\n"
    for _ in range(2):
        answer = check_yaml(ci, agent, broken)
        assert (answer["decision"], codes(answer)) == ("deny", ["invalid_manifest"])
    assert parses == ["application/yaml", "application/yaml"]


def test_the_approved_manifest_is_read_once_for_any_number_of_new_scopes(ci, workflow, agent):
    workflow.approve(agent)
    reads = []
    for n in range(3):
        text = yaml_of(manifest_for(agent, description=f"Build {n}."))
        with CaptureQueriesContext(connection) as queries:
            assert check_yaml(ci, agent, text)["decision"] == "allow"
        reads.append(len(manifest_reads(queries)))
    assert reads == [1, 0, 0]
