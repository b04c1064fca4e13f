"""Idempotency-Key: a replay gets the first answer; the same key with another body is 422."""

import pytest

from api.models import IdempotencyRecord
from approvals.models import ApprovalPackage
from tests.api.conftest import error_of
from tests.factories import manifest_for
from tokens.models import Scope

pytestmark = pytest.mark.django_db


@pytest.fixture
def writer(api, owner, checklists):
    return api(owner, Scope.PACKAGES_WRITE)


def url(agent):
    return f"/api/v1/agents/{agent.slug}/packages"


def test_a_replay_returns_the_first_answer_and_changes_nothing(writer, agent, audit_since):
    since = audit_since()
    first = writer.post(url(agent), manifest_for(agent), format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert first.status_code == 201
    replay = writer.post(url(agent), manifest_for(agent), format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert replay.status_code == 201
    assert replay.json() == first.json()
    assert replay["Idempotent-Replayed"] == "true"
    assert ApprovalPackage.objects.filter(agent=agent).count() == 1
    assert [e.action for e in since()] == ["package.created"]
    other = writer.post(url(agent), manifest_for(agent), format="json", HTTP_IDEMPOTENCY_KEY="k2")
    assert other.json()["version"] == 2


def test_the_same_key_with_another_body_is_422(writer, agent):
    assert (
        writer.post(
            url(agent), manifest_for(agent), format="json", HTTP_IDEMPOTENCY_KEY="k"
        ).status_code
        == 201
    )
    changed = manifest_for(agent, description="Something else.")
    response = writer.post(url(agent), changed, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert response.status_code == 422
    assert error_of(response)["code"] == "idempotency_key_reused"
    elsewhere = writer.post(f"{url(agent)}/1/submit", {}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert elsewhere.status_code == 422
    assert ApprovalPackage.objects.filter(agent=agent).count() == 1


def test_refusals_are_replayed_too(writer, agent):
    bad = {"agent": agent.slug}
    first = writer.post(url(agent), bad, format="json", HTTP_IDEMPOTENCY_KEY="bad")
    again = writer.post(url(agent), bad, format="json", HTTP_IDEMPOTENCY_KEY="bad")
    assert first.status_code == again.status_code == 400
    assert again.json() == first.json()


def test_keys_belong_to_their_token(api, owner, agent, checklists):
    one, two = api(owner, Scope.PACKAGES_WRITE), api(owner, Scope.PACKAGES_WRITE)
    body = manifest_for(agent)
    assert (
        one.post(url(agent), body, format="json", HTTP_IDEMPOTENCY_KEY="same").json()["version"]
        == 1
    )
    assert (
        two.post(url(agent), body, format="json", HTTP_IDEMPOTENCY_KEY="same").json()["version"]
        == 2
    )
    assert set(IdempotencyRecord.objects.values_list("principal", flat=True)) == {
        f"token:{one.token.pk}",
        f"token:{two.token.pk}",
    }


def test_a_refused_token_claims_no_key(api, owner, agent):
    client = api(owner, Scope.GATE_CHECK)
    response = client.post(url(agent), {}, format="json", HTTP_IDEMPOTENCY_KEY="x")
    assert response.status_code == 403
    assert not IdempotencyRecord.objects.exists()


def test_a_server_error_releases_the_key(writer, agent, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("approvals.api.views.package_create", broken)
    with pytest.raises(RuntimeError):
        writer.post(url(agent), manifest_for(agent), format="json", HTTP_IDEMPOTENCY_KEY="r")
    assert not IdempotencyRecord.objects.exists()
    monkeypatch.undo()
    response = writer.post(url(agent), manifest_for(agent), format="json", HTTP_IDEMPOTENCY_KEY="r")
    assert response.status_code == 201


def test_an_overlong_key_is_400(writer, agent):
    response = writer.post(url(agent), {}, format="json", HTTP_IDEMPOTENCY_KEY="k" * 300)
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid_idempotency_key"


@pytest.mark.parametrize("key", ["two words", "bell\x07", "caf\u00e9", "\u202ekey", ""])
def test_a_key_of_other_than_visible_ascii_is_400_and_claims_nothing(writer, agent, key):
    response = writer.post(url(agent), manifest_for(agent), format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid_idempotency_key"
    assert list(error["fields"]) == ["Idempotency-Key"]
    assert not IdempotencyRecord.objects.exists()
    assert not agent.packages.exists()


def test_a_key_of_255_visible_ascii_characters_is_used(writer, agent):
    key = "".join(chr(c) for c in range(0x21, 0x7F)) * 3
    key = key[:255]
    first = writer.post(url(agent), manifest_for(agent), format="json", HTTP_IDEMPOTENCY_KEY=key)
    again = writer.post(url(agent), manifest_for(agent), format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again["Idempotent-Replayed"] == "true"


def test_a_nul_character_quoted_back_in_an_error_is_kept_and_replayed(writer, agent):
    body = {"agent": agent.slug, "na\u0000me": "x"}
    first = writer.post(url(agent), body, format="json", HTTP_IDEMPOTENCY_KEY="nul")
    assert first.status_code == 400
    again = writer.post(url(agent), body, format="json", HTTP_IDEMPOTENCY_KEY="nul")
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"


def test_a_nul_character_inside_a_manifest_is_not_a_server_error(writer, agent):
    manifest = manifest_for(agent, description="nul \u0000 here")
    response = writer.post(url(agent), manifest, format="json")
    assert response.status_code == 400
    assert "manifest.description" in error_of(response)["fields"]


def test_answers_older_than_a_day_are_not_replayed_and_are_pruned(writer, agent):
    from datetime import timedelta

    from django.utils import timezone

    from api.services import idempotency_prune

    body = manifest_for(agent)
    assert writer.post(url(agent), body, format="json", HTTP_IDEMPOTENCY_KEY="old").status_code
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(hours=25))
    again = writer.post(url(agent), body, format="json", HTTP_IDEMPOTENCY_KEY="old")
    assert again.status_code == 201
    assert again.json()["version"] == 2
    assert not again.has_header("Idempotent-Replayed")
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(hours=25))
    assert idempotency_prune() == 1
    assert not IdempotencyRecord.objects.exists()
