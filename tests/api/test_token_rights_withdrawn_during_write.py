"""A token's user losing a group, staff or superuser status while a write made with the token
runs: the write commits first, or not at all.

A withdrawal locks its user's token rows before its first event, as a deactivation does;
the write locks its token's row before its first event and, once that lock is granted,
checks the scope its request was admitted with against the user's role, and that the
user keeps the staff and superuser status the request found
(`tokens.authentication.token_confirm`). So the trail never shows a token's write after
the withdrawal of what it relied on: either the write's event comes first, or the write
is refused with the scope check's 403 `scope_not_granted` and leaves nothing behind. A
group left that grants none of it holds the write up, and lets it through. The Django
admin's save, which may record a rename first, locks the tokens before that event when
it takes away a group or a flag.
"""

import pytest
from django.contrib.auth import get_user_model

from agents.membership import Source, user_flags_set, user_groups_change
from api.models import IdempotencyRecord
from approvals.models import PackageState
from audit.actors import Actor
from audit.models import AuditEvent
from identity.services import user_groups_set
from tests.api.conftest import error_of
from tests.api.test_token_user_deactivated_during_write import _in_use, _poster, _submit_url
from tests.concurrency import chain_held, queued, raced
from tests.identity.test_user_admin import (  # noqa: F401  (a fixture)
    _post_user,
    admin_client,
)
from tokens.models import Scope

pytestmark = pytest.mark.django_db(transaction=True)

SUBMITTED, RENAMED = "package.submitted", "user.renamed"
GROUPS, STAFF, SUPERUSER = "user.groups_changed", "user.staff_changed", "user.superuser_changed"
ADMIN = Actor.system("staff")


def _trail(client, user) -> list[str]:
    """Return the submissions made with the client's token and the user's own changes, in
    the trail's order."""
    label = f"token:{client.token.prefix} ({client.token.name})"
    events = AuditEvent.objects.filter(action__in=[SUBMITTED, RENAMED, GROUPS, STAFF, SUPERUSER])
    return [
        event.action
        for event in events.order_by("seq")
        if event.action == SUBMITTED
        and event.token_label == label
        or event.action != SUBMITTED
        and event.target_id == str(user.pk)
    ]


def _leaving(user, group: str):
    return lambda: user_groups_change(user, actor=ADMIN, source=Source.COMMAND, remove=[group])


def _flag_off(user, flag: str):
    return lambda: user_flags_set(user, actor=ADMIN, source=Source.COMMAND, **{flag: False})


def _refused(answer, package, message: str) -> None:
    assert answer.status_code == 403, answer.json()
    error = error_of(answer)
    assert error["code"] == "scope_not_granted"
    assert error["message"] == message
    package.refresh_from_db()
    assert package.state == PackageState.DRAFT
    # The refusal of a withdrawn right says nothing of the request: its key is not kept.
    assert not IdempotencyRecord.objects.exists()


NO_SCOPE = "The token's user is no longer granted the packages:write scope."


def _raised(owner, flag: str):
    """Return the owner given the flag, a product owner still."""
    setattr(owner, flag, True)
    owner.save(update_fields=[flag])
    return owner


def test_leaving_the_group_first_refuses_the_write_that_waits_for_it(api, owner, agent, workflow):
    client = _in_use(api(owner, Scope.PACKAGES_WRITE))
    package = workflow.create(agent)
    answers: list = []
    # The change holds the user's token rows and waits for the chain's lock; the write waits
    # for its token's row, and checks its scope against the role the change leaves.
    with chain_held() as held:
        errors = queued(
            held,
            _leaving(owner, "product-owner"),
            _poster(client, _submit_url(package), answers, HTTP_IDEMPOTENCY_KEY="submit-1"),
        )
    assert not errors, errors
    _refused(answers[0], package, NO_SCOPE)
    assert _trail(client, owner) == [GROUPS]


def test_leaving_the_group_committed_while_the_write_waits_refuses_it(api, owner, agent, workflow):
    client = _in_use(api(owner, Scope.PACKAGES_WRITE))
    package = workflow.create(agent)
    answers: list = []
    errors = raced(_leaving(owner, "product-owner"), _poster(client, _submit_url(package), answers))
    assert not errors, errors
    _refused(answers[0], package, NO_SCOPE)
    assert _trail(client, owner) == [GROUPS]


def test_leaving_the_group_waits_for_a_write_that_reached_its_event_first(
    api, owner, agent, workflow
):
    client = _in_use(api(owner, Scope.PACKAGES_WRITE))
    package = workflow.create(agent)
    answers: list = []
    with chain_held() as held:
        errors = queued(
            held, _poster(client, _submit_url(package), answers), _leaving(owner, "product-owner")
        )
    assert not errors, errors
    assert answers[0].status_code == 200, answers[0].json()
    assert _trail(client, owner) == [SUBMITTED, GROUPS]
    assert not get_user_model().objects.get(pk=owner.pk).groups.exists()


def test_leaving_a_group_that_grants_none_of_the_write_lets_it_through(api, owner, agent, workflow):
    user_groups_change(owner, actor=ADMIN, source=Source.COMMAND, add=["iam"])
    client = _in_use(api(owner, Scope.PACKAGES_WRITE))
    package = workflow.create(agent)
    answers: list = []
    with chain_held() as held:
        errors = queued(
            held, _leaving(owner, "iam"), _poster(client, _submit_url(package), answers)
        )
    assert not errors, errors
    assert answers[0].status_code == 200, answers[0].json()
    assert _trail(client, owner) == [GROUPS, GROUPS, SUBMITTED]


@pytest.mark.parametrize(
    "flag, event, message",
    [
        ("is_staff", STAFF, "The token's user is no longer staff."),
        ("is_superuser", SUPERUSER, "The token's user is no longer a superuser."),
    ],
)
def test_losing_staff_or_superuser_first_refuses_the_write_that_waits_for_it(
    api, owner, agent, workflow, flag, event, message
):
    owner = _raised(owner, flag)
    client = _in_use(api(owner, Scope.PACKAGES_WRITE))
    package = workflow.create(agent)
    answers: list = []
    with chain_held() as held:
        errors = queued(
            held, _flag_off(owner, flag), _poster(client, _submit_url(package), answers)
        )
    assert not errors, errors
    _refused(answers[0], package, message)
    assert _trail(client, owner) == [event]


@pytest.mark.parametrize("flag, event", [("is_staff", STAFF), ("is_superuser", SUPERUSER)])
def test_losing_staff_or_superuser_waits_for_a_write_that_reached_its_event_first(
    api, owner, agent, workflow, flag, event
):
    owner = _raised(owner, flag)
    client = _in_use(api(owner, Scope.PACKAGES_WRITE))
    package = workflow.create(agent)
    answers: list = []
    with chain_held() as held:
        errors = queued(
            held, _poster(client, _submit_url(package), answers), _flag_off(owner, flag)
        )
    assert not errors, errors
    assert answers[0].status_code == 200, answers[0].json()
    assert _trail(client, owner) == [SUBMITTED, event]


# The admin's change form, posted with a rename and the product owners' group taken away
# (`groups` posted empty), or with staff status taken away (an unticked box is not posted).
ADMIN_WITHDRAWALS = {
    "group": ({"groups": []}, None, [RENAMED, GROUPS], NO_SCOPE),
    "staff": (
        {"is_staff": None},
        "is_staff",
        [RENAMED, STAFF],
        "The token's user is no longer staff.",
    ),
}


@pytest.mark.parametrize("withdrawal", sorted(ADMIN_WITHDRAWALS))
def test_the_admins_rename_and_withdrawal_first_refuse_the_write(
    admin_client,  # noqa: F811  (the fixture imported above)
    api,
    owner,
    agent,
    workflow,
    withdrawal,
):
    posted, flag, trail, message = ADMIN_WITHDRAWALS[withdrawal]
    owner = _raised(owner, flag) if flag else owner
    client = _in_use(api(owner, Scope.PACKAGES_WRITE))
    package = workflow.create(agent)
    answers: list = []
    # The save records the rename before the withdrawal, whose group change save_related
    # makes last: it holds the tokens' rows from before the rename's event.
    with chain_held() as held:
        errors = queued(
            held,
            lambda: _post_user(admin_client, owner, first_name="Olive", **posted),
            _poster(client, _submit_url(package), answers),
        )
    assert not errors, errors
    _refused(answers[0], package, message)
    assert _trail(client, owner) == trail


@pytest.mark.parametrize("withdrawal", sorted(ADMIN_WITHDRAWALS))
def test_the_admins_rename_and_withdrawal_wait_for_a_write_that_reached_its_event_first(
    admin_client,  # noqa: F811  (the fixture imported above)
    api,
    owner,
    agent,
    workflow,
    withdrawal,
):
    posted, flag, trail, _ = ADMIN_WITHDRAWALS[withdrawal]
    owner = _raised(owner, flag) if flag else owner
    client = _in_use(api(owner, Scope.PACKAGES_WRITE))
    package = workflow.create(agent)
    answers: list = []
    with chain_held() as held:
        errors = queued(
            held,
            _poster(client, _submit_url(package), answers),
            lambda: _post_user(admin_client, owner, first_name="Olive", **posted),
        )
    assert not errors, errors
    assert answers[0].status_code == 200, answers[0].json()
    assert _trail(client, owner) == [SUBMITTED, *trail]


def test_the_providers_mapping_adding_a_group_and_taking_staff_waits_for_the_write(
    api, owner, agent, workflow
):
    """The mapping records the groups added before staff taken away: it holds the tokens'
    rows from before that first event, as a write holding one waits for the chain's lock."""
    owner = _raised(owner, "is_staff")
    client = _in_use(api(owner, Scope.PACKAGES_WRITE))
    package = workflow.create(agent)
    answers: list = []

    def mapping():
        groups = ["product-owner", "iam"]
        user_groups_set(owner, groups, actor=ADMIN, source=Source.OIDC, staff=False)

    with chain_held() as held:
        errors = queued(held, _poster(client, _submit_url(package), answers), mapping)
    assert not errors, errors
    assert answers[0].status_code == 200, answers[0].json()
    assert _trail(client, owner) == [SUBMITTED, GROUPS, STAFF]
