"""A token revoked while a write made with it runs: the write commits first, or not at all.

A token's write locks the token's row before its first audit event and checks the
token again there (`tokens.authentication.token_confirm`); revoking locks the same
row. So the trail never shows a write made with a token after that token's
revocation: either the write's event comes first, or the write is refused with the
API's 401 and leaves nothing behind.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.test import APIClient

from api.models import IdempotencyRecord
from approvals.models import PackageState
from approvals.services import package_submit
from audit.actors import Actor
from audit.models import AuditEvent
from tests.api.conftest import error_of
from tests.concurrency import Held, blocked, chain_held, join, queued, run_together, start
from tokens.authentication import actor_for
from tokens.models import ApiToken, Scope
from tokens.selectors import token_for_secret
from tokens.services import token_revoke

SUBMITTED, REVOKED = "package.submitted", "token.revoked"


def _submit_url(package) -> str:
    return f"/api/v1/agents/{package.agent.slug}/packages/{package.version}/submit"


def _trail(token) -> list[str]:
    """Return the submissions made with the token and its revocation, in the trail's order."""
    label = f"token:{token.prefix} ({token.name})"
    events = AuditEvent.objects.filter(action__in=[SUBMITTED, REVOKED]).order_by("seq")
    return [
        event.action
        for event in events
        if event.action == REVOKED
        and event.target_id == str(token.pk)
        or event.action == SUBMITTED
        and event.token_label == label
    ]


def _poster(client, url, answers: list, **headers):
    def post():
        answers.append(client.post(url, {}, format="json", **headers))

    return post


def _revoker(token, owner):
    return lambda: token_revoke(actor=Actor.for_user(owner), token=token)


@pytest.mark.django_db(transaction=True)
def test_a_token_revoked_before_its_write_appends_refuses_the_write(api, owner, agent, workflow):
    client = api(owner, Scope.PACKAGES_WRITE)
    package = workflow.create(agent)
    answers: list = []
    # The write authenticates, then waits for the agent's row, which the test holds, while
    # the token's revocation commits.
    with Held("SELECT 1 FROM agents_agent WHERE id = %s FOR NO KEY UPDATE", [agent.pk]) as held:
        threads = start(
            _poster(client, _submit_url(package), answers, HTTP_IDEMPOTENCY_KEY="submit-1")
        )
        blocked(1, "the write to wait for the agent's row")
        token_revoke(actor=Actor.for_user(owner), token=client.token)
        held.release()
        join(threads)
    (answer,) = answers
    assert answer.status_code == 401, answer.json()
    assert error_of(answer)["code"] == "token_revoked"
    package.refresh_from_db()
    assert package.state == PackageState.DRAFT
    assert _trail(client.token) == [REVOKED]
    # A refusal of who sent it says nothing of the request: its key is not kept.
    assert not IdempotencyRecord.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_revocation_waits_for_a_write_that_reached_its_event_first(api, owner, agent, workflow):
    client = api(owner, Scope.PACKAGES_WRITE)
    package = workflow.create(agent)
    answers: list = []
    # The write holds the token's row and waits for the chain's lock; the revocation waits
    # for the token's row, so it cannot append its event between the write's and its commit.
    with chain_held() as held:
        errors = queued(
            held, _poster(client, _submit_url(package), answers), _revoker(client.token, owner)
        )
    assert not errors, errors
    assert answers[0].status_code == 200, answers[0].json()
    assert _trail(client.token) == [SUBMITTED, REVOKED]


@pytest.mark.django_db(transaction=True)
def test_a_revocation_racing_a_write_never_follows_it_in_the_trail(api, owner, agent, workflow):
    outcomes = set()
    for _ in range(6):
        client = api(owner, Scope.PACKAGES_WRITE)
        package = workflow.create(agent)
        answers: list = []
        run_together(
            [_poster(client, _submit_url(package), answers), _revoker(client.token, owner)]
        )
        package.refresh_from_db()
        (answer,) = answers
        if answer.status_code == 200:
            assert _trail(client.token) == [SUBMITTED, REVOKED]
            assert package.state == PackageState.IN_REVIEW
        else:
            assert answer.status_code == 401, answer.json()
            assert _trail(client.token) == [REVOKED]
            assert package.state == PackageState.DRAFT
        outcomes.add(answer.status_code)
    assert outcomes <= {200, 401}


def _token_locks(queries) -> list[str]:
    return [
        query["sql"]
        for query in queries
        if 'FROM "tokens_apitoken"' in query["sql"] and "FOR NO KEY UPDATE" in query["sql"]
    ]


@pytest.mark.django_db
def test_a_tokens_write_locks_its_token_alone_and_a_sessions_write_locks_none(
    api, owner, agent, workflow
):
    client = api(owner, Scope.PACKAGES_WRITE)
    with CaptureQueriesContext(connection) as queries:
        answer = client.post(_submit_url(workflow.create(agent)), {}, format="json")
    assert answer.status_code == 200, answer.json()
    # Its own row, confirmed once its user's row is locked (the submission decides from
    # their rights) and again before its event.
    assert len(_token_locks(queries)) == 2
    assert len(set(_token_locks(queries))) == 1

    session = APIClient()
    session.force_login(owner)
    with CaptureQueriesContext(connection) as queries:
        answer = session.post(_submit_url(workflow.create(agent)), {}, format="json")
    assert answer.status_code == 200, answer.json()
    assert _token_locks(queries) == []
    assert not [q for q in queries if "tokens_apitoken" in q["sql"]]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"revoked_at": timezone.now()}, "token_revoked"),
        ({"expires_at": timezone.now()}, "token_expired"),
        (None, "user_inactive"),
    ],
)
def test_a_token_unusable_since_its_request_began_writes_nothing(
    make_token, owner, agent, workflow, change, code
):
    token, secret = make_token(owner, Scope.PACKAGES_WRITE)
    # The request read its token, and loaded its user, while both were active.
    request = type("Request", (), {"auth": token_for_secret(secret), "user": owner})()
    package = workflow.create(agent)
    if change is None:
        type(owner).objects.filter(pk=owner.pk).update(is_active=False)
    else:
        ApiToken.objects.filter(pk=token.pk).update(**change)
    with pytest.raises(exceptions.AuthenticationFailed) as refused:
        package_submit(actor=actor_for(request), package=package)
    assert refused.value.get_codes() == code
    package.refresh_from_db()
    assert package.state == PackageState.DRAFT
    assert not AuditEvent.objects.filter(action=SUBMITTED).exists()
