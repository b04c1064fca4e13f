"""The review plan's reasons name the changed fields in words, each with its exact path.

Reviewers read "a tool's trust boundary (scope.tools[].trust_boundary)", the words from
the field's title in the manifest schema; several fields read as one list. The plan's
`changed_fields` keep the bare paths, for tools.
"""

import copy

import pytest

from signoffs.models import SignOffState

pytestmark = pytest.mark.django_db

ROLLBACK = "the rollback plan (rollback.plan)"
BOUNDARY = "a tool's trust boundary (scope.tools[].trust_boundary)"


def test_a_change_to_several_fields_names_each_in_words(workflow, agent, audit_since):
    first = workflow.approve(agent)
    doc = copy.deepcopy(first.manifest)
    doc["rollback"]["plan"] = "Redeploy v1."
    kb_search = next(t for t in doc["scope"]["tools"] if t["id"] == "kb-search")
    kb_search["trust_boundary"] = "external"
    since = audit_since()
    second = workflow.submit(agent, doc)
    plan = second.review_plan
    assert plan["mode"] == "targeted"
    assert plan["changed_fields"] == ["rollback.plan", "scope.tools[].trust_boundary"]
    assert plan["reason"] == f"This version changes {ROLLBACK} and {BOUNDARY} against v1."
    assert plan["reopened"] == {
        "iam": f"Re-opened: IAM-7 covers {BOUNDARY}.",
        "security": f"Re-opened: SEC-4 covers {BOUNDARY}.",
        "compliance": f"Re-opened: CMP-5 covers {ROLLBACK}; CMP-6 covers {BOUNDARY}.",
    }
    carried = (
        f"Carried over from v1: no item of the PAM checklist covers {ROLLBACK} and {BOUNDARY}."
    )
    assert plan["carried_over"] == {"pam": carried}
    signoffs = {s.dimension: s for s in second.signoffs.all()}
    assert signoffs["pam"].state == SignOffState.CARRIED_OVER
    assert signoffs["pam"].review_reason == carried
    assert signoffs["security"].review_reason == plan["reopened"]["security"]
    event = next(e for e in since() if e.action == "package.signoffs_carried_over")
    assert event.data["reopened"] == plan["reopened"]
