"""Packages, reviews and the kill switch over HTTP."""

import json

import pytest
import yaml
from django.contrib.auth.models import Group

from signoffs.models import Dimension
from tests.api.conftest import error_of
from tests.factories import UserFactory, manifest_for
from tokens.models import Scope

pytestmark = pytest.mark.django_db


def packages(slug="support-assistant"):
    return f"/api/v1/agents/{slug}/packages"


def decisions(version, dimension, slug="support-assistant"):
    return f"{packages(slug)}/{version}/signoffs/{dimension}/decisions"


@pytest.fixture
def writer(api, owner, checklists):
    return api(owner, Scope.PACKAGES_WRITE, Scope.AGENTS_READ)


def test_create_from_json_answers_version_digest_tier_and_diff(writer, agent, audit_since):
    since = audit_since()
    response = writer.post(packages(), manifest_for(agent), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["version"] == 1
    assert body["state"] == "draft"
    assert len(body["digest"]) == 64
    assert body["risk_tier"] in {"high", "critical"}
    assert body["diff"]["is_expansion"] is True
    assert body["diff"]["expansions"]
    assert body["manifest"]["agent"] == agent.slug
    assert [e.action for e in since()] == ["package.created"]


def test_create_from_yaml_body_and_from_wrapped_yaml(writer, agent):
    text = yaml.safe_dump(json.loads(json.dumps(manifest_for(agent))), sort_keys=False)
    first = writer.post(packages(), text, content_type="application/yaml")
    assert first.status_code == 201, first.json()
    second = writer.post(packages(), {"manifest_yaml": text}, format="json")
    assert second.status_code == 201, second.json()
    assert (first.json()["version"], second.json()["version"]) == (1, 2)
    assert first.json()["digest"] == second.json()["digest"]


def test_an_invalid_manifest_is_400_with_every_bad_field(writer, agent):
    manifest = manifest_for(agent)
    manifest["identity"]["workload_id"] = "not-a-spiffe-id"
    manifest["scope"]["tools"][0]["access"] = "everything"
    response = writer.post(packages(), manifest, format="json")
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid_manifest"
    assert "manifest.identity.workload_id" in error["fields"]
    assert any(key.startswith("manifest.scope.tools[0]") for key in error["fields"])
    response = writer.post(packages(), "agent: [unclosed", content_type="application/yaml")
    assert response.status_code == 400
    assert "invalid YAML" in error_of(response)["fields"]["manifest"][0]


def test_a_kill_switch_test_date_in_the_future_is_400_naming_it(writer, agent):
    manifest = manifest_for(agent)
    manifest["kill_switch"]["last_tested"] = "2099-12-31"
    response = writer.post(packages(), manifest, format="json")
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid_manifest"
    assert list(error["fields"]) == ["manifest.kill_switch.last_tested"]
    assert error["fields"]["manifest.kill_switch.last_tested"][0].startswith(
        "must not be in the future"
    )
    assert writer.get(packages()).json()["count"] == 0


def test_a_body_or_manifest_nested_without_end_is_400_and_stores_nothing(writer, agent):
    deep = '{"manifest": ' + "[" * 50_000 + "]" * 50_000 + "}"
    response = writer.generic("POST", packages(), deep, content_type="application/json")
    assert response.status_code == 400
    assert "nested too deeply" in error_of(response)["message"]
    response = writer.post(packages(), "agent: &a [*a]\n", content_type="application/yaml")
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid_manifest"
    assert not agent.packages.exists()


def test_a_manifest_naming_another_agent_is_refused(writer, agent, other_team_agent):
    response = writer.post(packages(), manifest_for(other_team_agent), format="json")
    assert response.status_code == 400
    assert "manifest.agent" in error_of(response)["fields"]


def test_a_manifest_naming_another_agents_identity_is_409(writer, agent, other_team_agent):
    doc = manifest_for(agent)
    doc["identity"]["workload_id"] = other_team_agent.workload_id
    response = writer.post(packages(), doc, format="json")
    assert response.status_code == 409
    assert list(error_of(response)["fields"]) == ["manifest.identity.workload_id"]
    assert not agent.packages.exists()


def test_a_reviewer_may_not_write_packages(api, reviewers, agent, checklists):
    response = api(reviewers["iam"][0]).post(packages(), manifest_for(agent), format="json")
    assert response.status_code == 403
    assert error_of(response)["code"] == "insufficient_scope"  # the role grants no packages:write


def test_submit_list_retrieve_and_diff(writer, agent, workflow):
    writer.post(packages(), manifest_for(agent), format="json")
    response = writer.post(f"{packages()}/1/submit", {}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["state"] == "in_review"
    assert body["submitted_by"] == "owner"
    assert {s["dimension"]: s["state"] for s in body["signoffs"]} == {
        d: "pending" for d in Dimension.values
    }
    again = writer.post(f"{packages()}/1/submit", {}, format="json")
    assert again.status_code == 409
    assert error_of(again)["code"] == "invalid_transition"

    narrowed = manifest_for(agent)
    narrowed["scope"]["tools"] = narrowed["scope"]["tools"][:1]
    assert writer.post(packages(), narrowed, format="json").status_code == 201
    listing = writer.get(packages())
    assert [p["version"] for p in listing.json()["results"]] == [2, 1]
    diff = writer.get(f"{packages()}/1/diff/2")
    assert diff.status_code == 200
    assert diff.json()["diff"]["narrowings"]
    assert not diff.json()["diff"]["is_expansion"]
    back = writer.get(f"{packages()}/2/diff/1").json()["diff"]
    assert back["is_expansion"]
    assert writer.get(f"{packages()}/1/diff/9").status_code == 404
    assert writer.get(f"{packages()}/9").status_code == 404


def test_reviewers_decide_over_http_until_approved(api, writer, agent, reviewers, workflow):
    package = workflow.submit(agent)
    for dimension in Dimension.values:
        for reviewer in reviewers[dimension][
            : package.signoffs.get(dimension=dimension).required_approvals
        ]:
            response = api(reviewer, Scope.REVIEWS_WRITE).post(
                decisions(package.version, dimension),
                {
                    "verdict": "approve",
                    "comment": "ok",
                    "answers": workflow.answers(package, dimension),
                },
                format="json",
            )
            assert response.status_code == 201, response.json()
            assert response.json()["decision"]["reviewer"] == reviewer.username
    assert response.json()["package_state"] == "approved"
    detail = writer.get(f"{packages()}/{package.version}").json()
    assert detail["state"] == "approved"
    assert detail["expires_at"]
    assert all(s["state"] == "approved" and s["decisions"] for s in detail["signoffs"])


@pytest.fixture
def in_review(workflow, agent):
    return workflow.submit(agent)


def decide(client, package, dimension, **body):
    body.setdefault("verdict", "approve")
    return client.post(decisions(package.version, dimension), body, format="json")


def test_self_review_is_refused_with_its_code(api, agent, checklists, workflow):
    author = UserFactory(username="iam-staff", groups=["iam"], is_staff=True)
    client = api(author)
    assert client.post(packages(), manifest_for(agent), format="json").status_code == 201
    assert client.post(f"{packages()}/1/submit", {}, format="json").status_code == 200
    response = decide(client, type("P", (), {"version": 1}), "iam")
    assert response.status_code == 403
    assert error_of(response)["code"] == "self_review"


def test_an_owner_in_a_reviewer_group_may_not_review(api, owner, in_review):
    owner.groups.add(Group.objects.get_or_create(name="pam")[0])
    response = decide(api(owner, Scope.REVIEWS_WRITE), in_review, "pam")
    assert response.status_code == 403
    assert error_of(response)["code"] in {"self_review", "owner_review"}


@pytest.mark.parametrize(
    ("who", "dimension", "code", "status"),
    [
        ("pam", "iam", "not_reviewer", 403),
        ("iam", "nonsense", "unknown_dimension", 404),
    ],
)
def test_who_may_decide_refusals(api, reviewers, in_review, who, dimension, code, status):
    response = decide(api(reviewers[who][0]), in_review, dimension)
    assert response.status_code == status
    assert error_of(response)["code"] == code


def test_each_change_of_a_diff_carries_its_words_beside_its_machine_fields(writer, agent):
    first = manifest_for(agent)
    assert writer.post(packages(), first, format="json").status_code == 201
    second = manifest_for(agent)
    second["rollback"]["plan"] = "Roll forward."
    second["scope"]["tools"][0]["access"] = "admin"
    tool = second["scope"]["tools"][0]["id"]
    writer.post(packages(), second, format="json")
    diff = writer.get(f"{packages()}/1/diff/2").json()["diff"]
    (commitment,) = diff["commitments"]
    assert commitment["words"] == f"rollback plan: {first['rollback']['plan']} → Roll forward."
    assert (commitment["kind"], commitment["identifier"], commitment["field"]) == (
        "package",
        "rollback.plan",
        "value",
    )
    assert commitment["message"].startswith("rollback.plan: ")
    (expansion,) = diff["expansions"]
    assert expansion["words"] == f"tool {tool}: access Write → Admin"
    assert (expansion["identifier"], expansion["field"]) == (tool, "access")
    assert (expansion["old"], expansion["new"]) == ("write", "admin")
    assert expansion["classification"] == "expansion"
    # A package's stored diff (a first version's, against nothing) reads the same way.
    stored = writer.get(f"{packages()}/1").json()["diff"]
    plan = next(c for c in stored["expansions"] if c["identifier"] == "rollback.plan")
    assert plan["words"] == f"rollback plan: set to {first['rollback']['plan']}"


def test_the_schema_documents_a_changes_words(client):
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    components = schema["components"]["schemas"]
    diff = components["Diff"]["properties"]
    change = components[diff["commitments"]["items"]["$ref"].rsplit("/", 1)[1]]
    assert change["properties"]["words"]["type"] == "string"
    assert "title the manifest schema gives it" in change["properties"]["words"]["description"]
    assert "words" in change["required"] and "path" not in change["properties"]


def test_the_schema_names_the_dimensions_a_sign_off_path_takes(client):
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    signoffs = "/api/v1/agents/{slug}/packages/{version}/signoffs/{dimension}"
    for action in ("decisions", "reassign"):
        parameters = schema["paths"][f"{signoffs}/{action}"]["post"]["parameters"]
        (dimension,) = (p for p in parameters if p["name"] == "dimension")
        assert sorted(dimension["schema"]["enum"]) == sorted(Dimension.values)


def test_one_reviewer_decides_once_and_one_dimension(api, reviewers, in_review, workflow):
    client = api(reviewers["iam"][0])
    answers = workflow.answers(in_review, "iam")
    assert decide(client, in_review, "iam", answers=answers).status_code == 201
    again = decide(client, in_review, "iam", answers=answers)
    assert again.status_code in {403, 409}
    assert error_of(again)["code"] in {"already_decided", "signoff_closed"}
    reviewers["iam"][0].groups.add(reviewers["pam"][0].groups.get())
    other = decide(client, in_review, "pam", answers=workflow.answers(in_review, "pam"))
    assert other.status_code == 403
    assert error_of(other)["code"] == "other_dimension"


def test_refusing_needs_a_comment_and_a_draft_cannot_be_decided(api, reviewers, workflow, agent):
    draft = workflow.create(agent)
    client = api(reviewers["security"][0])
    response = decide(client, draft, "security")
    assert response.status_code == 409
    assert error_of(response)["code"] == "not_in_review"
    package = workflow.submit(agent)
    response = decide(client, package, "security", verdict="reject")
    assert response.status_code == 400
    assert "comment" in error_of(response)["fields"]
    response = decide(client, package, "security", verdict="maybe")
    assert response.status_code == 400
    assert "verdict" in error_of(response)["fields"]
    response = decide(client, package, "security", verdict="request_changes", comment="Narrow.")
    assert response.status_code == 201
    assert response.json()["package_state"] == "changes_requested"


def test_suspend_over_http(api, reviewers, security_oncall, workflow, agent, audit_since):
    workflow.approve(agent)
    response = api(reviewers["iam"][0], Scope.REVIEWS_WRITE).post(
        f"/api/v1/agents/{agent.slug}/suspend", {"reason": "Leaking."}, format="json"
    )
    assert response.status_code == 403
    assert error_of(response)["code"] == "not_permitted"
    client = api(security_oncall, Scope.REVIEWS_WRITE)
    response = client.post(f"/api/v1/agents/{agent.slug}/suspend", {}, format="json")
    assert response.status_code == 400
    assert "reason" in error_of(response)["fields"]
    since = audit_since()
    response = client.post(
        f"/api/v1/agents/{agent.slug}/suspend", {"reason": "Leaking data."}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["status"] == "suspended"
    assert response.json()["suspended"] is True
    assert "agent.suspended" in [e.action for e in since()]
    again = client.post(f"/api/v1/agents/{agent.slug}/suspend", {"reason": "Again."}, format="json")
    assert again.status_code == 409
    assert error_of(again)["code"] == "already_suspended"


def test_the_versions_list_query_count_does_not_grow(writer, agent, workflow):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    workflow.create(agent)
    writer.get(packages())
    with CaptureQueriesContext(connection) as few:
        assert writer.get(packages()).status_code == 200
    for _ in range(6):
        workflow.create(agent)
    with CaptureQueriesContext(connection) as many:
        assert writer.get(packages()).json()["count"] == 7
    assert len(many) == len(few)
    workflow.submit(agent)
    with CaptureQueriesContext(connection) as detail_few:
        writer.get(f"{packages()}/8")
    for dimension in ("iam", "pam"):
        workflow.decide(agent.packages.get(version=8), dimension)
    with CaptureQueriesContext(connection) as detail_many:
        assert len(writer.get(f"{packages()}/8").json()["signoffs"]) == 4
    assert len(detail_many) == len(detail_few)
