"""A token's user deactivated while a write made with the token runs: the write commits
first, or not at all (each order of it, as of every withdrawal of rights:
test_token_rights_withdrawn_during_write).

A deactivation locks its user's token rows before its event, as a revocation locks its
token's; the write locks its token's row before its first event and reads its user's
activation after that lock is granted (`tokens.authentication.token_confirm`). So the
trail never shows a deactivated user's token writing after the deactivation: either the
write's event comes first, or the write is refused with the API's 401 `user_inactive`
and leaves nothing behind. The Django admin's deactivation, which may record a rename
first, locks the tokens before that event too.
"""

import pytest
from django.utils import timezone

from agents.membership import Source, user_flags_set
from approvals.models import PackageState
from audit.actors import Actor
from audit.models import AuditEvent
from config.errors import InvalidInput
from tests.api.conftest import error_of
from tests.concurrency import raced, run_together
from tokens.models import ApiToken, Scope
from tokens.services import token_create

pytestmark = pytest.mark.django_db(transaction=True)

SUBMITTED, DEACTIVATED, RENAMED = "package.submitted", "user.active_changed", "user.renamed"
GROUPS, STAFF_CHANGED = "user.groups_changed", "user.staff_changed"
SUPERUSER_CHANGED, TEAMS = "user.superuser_changed", "user.teams_changed"
UNASSIGNED = "agent.reviewer_unassigned"
# The user's own changes a token's write is ordered against, and an agent's permission of
# theirs taken away.
WITHDRAWN = [DEACTIVATED, RENAMED, GROUPS, STAFF_CHANGED, SUPERUSER_CHANGED, TEAMS, UNASSIGNED]
STAFF = Actor.system("staff")


def _in_use(client):
    """Return the client, its token marked used just now, as a pipeline's busy token is.

    Authentication then leaves the token's row alone (`token_touch` writes it at most once
    a minute), so the request meets a deactivation at its write's check.
    """
    ApiToken.objects.filter(pk=client.token.pk).update(last_used_at=timezone.now())
    return client


def _submit_url(package) -> str:
    return f"/api/v1/agents/{package.agent.slug}/packages/{package.version}/submit"


def _trail(client, user, since: int = 0, write: str = SUBMITTED) -> list[str]:
    """Return the writes (`write` events) made with the client's token and the withdrawals
    of the user's rights after the event `since`, in the trail's order."""
    label = f"token:{client.token.prefix} ({client.token.name})"
    events = AuditEvent.objects.filter(action__in=[write, *WITHDRAWN], seq__gt=since)
    return [
        event.action
        for event in events.order_by("seq")
        if event.action == write
        and event.token_label == label
        or event.action != write
        and (event.target_id == str(user.pk) or event.data.get("user_id") == user.pk)
    ]


def _poster(client, url, answers: list, body: dict | None = None, method="post", **headers):
    def post():
        send = getattr(client, method)
        answers.append(send(url, body or {}, format="json", **headers))

    return post


def _deactivator(user):
    return lambda: user_flags_set(user, actor=STAFF, source=Source.COMMAND, is_active=False)


def test_a_deactivation_racing_a_write_never_follows_it_in_the_trail(api, owner, agent, workflow):
    outcomes = set()
    for _ in range(6):
        user_flags_set(owner, actor=STAFF, source=Source.COMMAND, is_active=True)
        client = _in_use(api(owner, Scope.PACKAGES_WRITE))
        package = workflow.create(agent)
        answers: list = []
        since = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first()
        run_together([_poster(client, _submit_url(package), answers), _deactivator(owner)])
        (answer,) = answers
        trail = _trail(client, owner, since)
        package.refresh_from_db()
        if answer.status_code == 200:
            assert trail == [SUBMITTED, DEACTIVATED]
            assert package.state == PackageState.IN_REVIEW
        else:
            # Refused at the write's check, or before it: a deactivation committed before
            # the permission check leaves the token's user no scope.
            assert answer.status_code in (401, 403), answer.json()
            assert error_of(answer)["code"] in ("user_inactive", "scope_not_granted")
            assert trail == [DEACTIVATED]
            assert package.state == PackageState.DRAFT
        outcomes.add(answer.status_code)
    assert outcomes <= {200, 401, 403}


def test_a_token_created_while_its_user_is_deactivated_is_refused(owner):
    """A token made meanwhile would escape the deactivation's lock of the user's tokens:
    its creation waits for the user's row and finds them inactive."""
    created: list = []

    def create():
        created.append(
            token_create(
                actor=STAFF, user=owner, name="late", scopes=[Scope.PACKAGES_WRITE], agents=()
            )
        )

    errors = raced(_deactivator(owner), create)
    assert [type(error) for error in errors] == [InvalidInput], errors
    assert errors[0].fields["user"] == ["The user is inactive."]
    assert not created
    assert not ApiToken.objects.filter(user=owner).exists()
