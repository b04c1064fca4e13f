"""A token's user deactivated, or losing a group, staff or superuser status, while a write
made with the token runs: the write commits first, or not at all (the admin's deactivation,
a free race and a token made meanwhile: test_token_user_deactivated_during_write).

A withdrawal locks its user's token rows before its first event, as a deactivation does;
the write locks its token's row before its first event and, once that lock is granted,
checks the scope its request was admitted with against the user's role, and that the
user keeps the staff and superuser status the request found
(`tokens.authentication.token_confirm`). So the trail never shows a token's write after
the withdrawal of what it relied on: either the write's event comes first, or the write
is refused with the scope check's 403 `scope_not_granted` and leaves nothing behind. A
group left that grants none of it holds the write up, and lets it through. The Django
admin's save, which may record a rename first, locks the tokens before that event when
it takes away a group or a flag. A write resting on more than its scope (a suspension on
the security group or the agent's kill-switch permission, an agent registered in or moved
to a team on the team's membership) is ordered against that right's withdrawal by the
user's or the agent's row lock instead (DECIDED_WRITES).
"""

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from agents.membership import (
    Source,
    reviewer_assign,
    reviewer_unassign,
    team_members_change,
    user_flags_set,
    user_groups_change,
)
from agents.models import Agent
from agents.permissions import SUSPEND_PERMISSION
from api.models import IdempotencyRecord
from approvals.models import PackageState
from audit.actors import Actor
from identity.services import user_groups_set
from signoffs.models import Decision, Dimension
from signoffs.services import SIGNOFF_DECIDED
from tests.api.conftest import error_of
from tests.api.test_token_user_deactivated_during_write import (
    DEACTIVATED,
    GROUPS,
    RENAMED,
    STAFF_CHANGED,
    SUBMITTED,
    SUPERUSER_CHANGED,
    TEAMS,
    UNASSIGNED,
    _deactivator,
    _in_use,
    _poster,
    _submit_url,
    _trail,
)
from tests.concurrency import chain_held, queued, raced
from tests.factories import TeamFactory, UserFactory
from tests.identity.test_user_admin import (  # noqa: F401  (a fixture)
    _post_user,
    admin_client,
)
from tokens.models import Scope

pytestmark = pytest.mark.django_db(transaction=True)

ADMIN = Actor.system("staff")


def _leaving(user, group: str):
    return lambda: user_groups_change(user, actor=ADMIN, source=Source.COMMAND, remove=[group])


def _flag_off(user, flag: str):
    return lambda: user_flags_set(user, actor=ADMIN, source=Source.COMMAND, **{flag: False})


def _refused(answer, package, status: int, code: str, message: str | None) -> None:
    assert answer.status_code == status, answer.json()
    error = error_of(answer)
    assert error["code"] == code
    assert message is None or error["message"] == message
    package.refresh_from_db()
    assert package.state == PackageState.DRAFT
    # A refusal of who sent it, or of a withdrawn right, says nothing of the request: its
    # key is not kept.
    assert not IdempotencyRecord.objects.exists()


NO_SCOPE = "The token's user is no longer granted the packages:write scope."


def _raised(owner, flag: str):
    """Return the owner given the flag, a product owner still."""
    setattr(owner, flag, True)
    owner.save(update_fields=[flag])
    return owner


# What is taken away: the owner's state before, the change, its event, and the refusal of a
# write that meets it (status, code, message).
WITHDRAWALS = {
    "deactivation": (
        None,
        lambda owner: _flag_off(owner, "is_active"),
        DEACTIVATED,
        (401, "user_inactive", None),
    ),
    "group": (
        None,
        lambda owner: _leaving(owner, "product-owner"),
        GROUPS,
        (403, "scope_not_granted", NO_SCOPE),
    ),
    "staff": (
        "is_staff",
        lambda owner: _flag_off(owner, "is_staff"),
        STAFF_CHANGED,
        (403, "scope_not_granted", "The token's user is no longer staff."),
    ),
    "superuser": (
        "is_superuser",
        lambda owner: _flag_off(owner, "is_superuser"),
        SUPERUSER_CHANGED,
        (403, "scope_not_granted", "The token's user is no longer a superuser."),
    ),
}


def _prepared(api, owner, agent, workflow, withdrawal: str):
    """Return the owner's token client (busy), a draft to submit, and the withdrawal."""
    flag, change, event, refusal = WITHDRAWALS[withdrawal]
    owner = _raised(owner, flag) if flag else owner
    client = _in_use(api(owner, Scope.PACKAGES_WRITE))
    return client, workflow.create(agent), change(owner), event, refusal


@pytest.mark.parametrize("withdrawal", sorted(WITHDRAWALS))
def test_a_withdrawal_appending_first_refuses_the_write_that_waits_for_it(
    api, owner, agent, workflow, withdrawal
):
    client, package, change, event, refusal = _prepared(api, owner, agent, workflow, withdrawal)
    answers: list = []
    # The withdrawal holds the user's token rows and waits for the chain's lock; the write
    # waits for its token's row, and reads the withdrawal once it has it.
    with chain_held() as held:
        errors = queued(
            held,
            change,
            _poster(client, _submit_url(package), answers, HTTP_IDEMPOTENCY_KEY="submit-1"),
        )
    assert not errors, errors
    _refused(answers[0], package, *refusal)
    assert _trail(client, owner) == [event]


@pytest.mark.parametrize("withdrawal", ["deactivation", "group"])
def test_a_withdrawal_committing_while_the_write_waits_refuses_it(
    api, owner, agent, workflow, withdrawal
):
    client, package, change, event, refusal = _prepared(api, owner, agent, workflow, withdrawal)
    answers: list = []
    errors = raced(change, _poster(client, _submit_url(package), answers))
    assert not errors, errors
    _refused(answers[0], package, *refusal)
    assert _trail(client, owner) == [event]


@pytest.mark.parametrize("withdrawal", sorted(WITHDRAWALS))
def test_a_withdrawal_waits_for_a_write_that_reached_its_event_first(
    api, owner, agent, workflow, withdrawal
):
    client, package, change, event, _ = _prepared(api, owner, agent, workflow, withdrawal)
    answers: list = []
    # The write holds its token's row and waits for the chain's lock; the withdrawal waits
    # for that row, so it cannot append its event between the write's and its commit.
    with chain_held() as held:
        errors = queued(held, _poster(client, _submit_url(package), answers), change)
    assert not errors, errors
    assert answers[0].status_code == 200, answers[0].json()
    assert _trail(client, owner) == [SUBMITTED, event]


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


# The admin's change form, posted with a rename and the account deactivated or staff status
# taken away (an unticked box is not posted), or the product owners' group taken away
# (`groups` posted empty); the flag the owner holds first; the refusal, as WITHDRAWALS has it.
ADMIN_WITHDRAWALS = {
    "deactivation": ({"is_active": None}, None, DEACTIVATED, WITHDRAWALS["deactivation"][3]),
    "group": ({"groups": []}, None, GROUPS, WITHDRAWALS["group"][3]),
    "staff": ({"is_staff": None}, "is_staff", STAFF_CHANGED, WITHDRAWALS["staff"][3]),
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
    posted, flag, event, refusal = ADMIN_WITHDRAWALS[withdrawal]
    owner = _raised(owner, flag) if flag else owner
    client = _in_use(api(owner, Scope.PACKAGES_WRITE))
    package = workflow.create(agent)
    answers: list = []
    # The save records the rename before the withdrawal (a group change save_related makes
    # last): it holds the tokens' rows from before the rename's event, so the write waits
    # for the whole save.
    with chain_held() as held:
        errors = queued(
            held,
            lambda: _post_user(admin_client, owner, first_name="Olive", **posted),
            _poster(client, _submit_url(package), answers),
        )
    assert not errors, errors
    _refused(answers[0], package, *refusal)
    assert _trail(client, owner) == [RENAMED, event]


@pytest.mark.parametrize("withdrawal", sorted(ADMIN_WITHDRAWALS))
def test_the_admins_rename_and_withdrawal_wait_for_a_write_that_reached_its_event_first(
    admin_client,  # noqa: F811  (the fixture imported above)
    api,
    owner,
    agent,
    workflow,
    withdrawal,
):
    posted, flag, event, _ = ADMIN_WITHDRAWALS[withdrawal]
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
    assert _trail(client, owner) == [SUBMITTED, RENAMED, event]


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
    assert _trail(client, owner) == [SUBMITTED, GROUPS, STAFF_CHANGED]


# Writes that decide from a right their token's scope does not carry: a suspension from the
# security group or the agent's suspend permission (reviews:write is any reviewer's), a
# registration from the membership of the team it names. Each decides under its user's row
# lock, or its agent's, which the withdrawal holds from before its first event.
SUSPENDED, REGISTERED, UPDATED = "agent.suspended", "agent.created", "agent.updated"
NOT_SUSPENDER = (403, "not_permitted")


@dataclass(frozen=True)
class DecidedWrite:
    client: object
    url: str
    body: dict
    event: str  # the write's
    method: str
    written: Callable[[], bool]
    change: Callable[[], object]  # the withdrawal
    withdrawn: str  # the withdrawal's event
    refusal: tuple[int, str]  # the status and code of a write that meets it


def _suspension(api, agent, groups, change, withdrawn) -> DecidedWrite:
    user = UserFactory(username="responder", groups=groups)
    return DecidedWrite(
        client=_in_use(api(user, Scope.REVIEWS_WRITE)),
        url=f"/api/v1/agents/{agent.slug}/suspend",
        body={"reason": "Incident 42."},
        event=SUSPENDED,
        method="post",
        written=lambda: Agent.objects.get(pk=agent.pk).suspended_at is not None,
        change=change(user),
        withdrawn=withdrawn,
        refusal=NOT_SUSPENDER,
    )


def _security_left(api, owner, agent, request) -> DecidedWrite:
    return _suspension(
        api, agent, ["iam", "security"], lambda user: _leaving(user, "security"), GROUPS
    )


def _suspend_permission_unassigned(api, owner, agent, request) -> DecidedWrite:
    def unassign(user):
        assign = {"actor": ADMIN, "agent": agent, "user": user, "source": Source.COMMAND}
        reviewer_assign(**assign, permission=SUSPEND_PERMISSION)
        return lambda: reviewer_unassign(**assign, permission=SUSPEND_PERMISSION)

    return _suspension(api, agent, ["iam"], unassign, UNASSIGNED)


def _team_left(api, owner, agent, request) -> DecidedWrite:
    slug = "fin-bot"
    return DecidedWrite(
        client=_in_use(api(owner, Scope.PACKAGES_WRITE)),
        url="/api/v1/agents",
        body={
            "slug": slug,
            "name": "Finance bot",
            "team": agent.team.slug,
            "workload_id": f"spiffe://prod.example.com/ns/fin/sa/{slug}",
            "log_principal": f"agent:{slug}",
            "deployment": "internal_copilot",
        },
        event=REGISTERED,
        method="post",
        written=lambda: Agent.objects.filter(slug=slug).exists(),
        change=lambda: team_members_change(
            actor=ADMIN, team=agent.team, source=Source.COMMAND, remove=[owner]
        ),
        withdrawn=TEAMS,
        refusal=(400, "not_team_member"),
    )


def _moved_team_left(api, owner, agent, request) -> DecidedWrite:
    team = TeamFactory(slug="finance", members=[owner])
    return DecidedWrite(
        client=_in_use(api(owner, Scope.PACKAGES_WRITE)),
        url=f"/api/v1/agents/{agent.slug}",
        body={"team": team.slug},
        event=UPDATED,
        method="patch",
        written=lambda: Agent.objects.get(pk=agent.pk).team_id == team.pk,
        change=lambda: team_members_change(
            actor=ADMIN, team=team, source=Source.COMMAND, remove=[owner]
        ),
        withdrawn=TEAMS,
        refusal=(400, "not_team_member"),
    )


def _decider_deactivated(api, owner, agent, request) -> DecidedWrite:
    package = request.getfixturevalue("workflow").submit(agent)
    reviewer = request.getfixturevalue("reviewers")[Dimension.COMPLIANCE][0]
    return DecidedWrite(
        client=_in_use(api(reviewer, Scope.REVIEWS_WRITE)),
        url=f"{_submit_url(package).removesuffix('/submit')}/signoffs/compliance/decisions",
        body={
            "verdict": "approve",
            "comment": "Checked.",
            "answers": request.getfixturevalue("workflow").answers(package, Dimension.COMPLIANCE),
        },
        event=SIGNOFF_DECIDED,
        method="post",
        written=lambda: Decision.objects.filter(reviewer=reviewer).exists(),
        change=_deactivator(reviewer),
        withdrawn=DEACTIVATED,
        refusal=(401, "user_inactive"),
    )


DECIDED_WRITES = {
    "sign-off decision, its decider deactivated": _decider_deactivated,
    "suspension, security left": _security_left,
    "suspension, its permission unassigned": _suspend_permission_unassigned,
    "registration in a team, the team left": _team_left,
    "move to a team, the team left": _moved_team_left,
}


@pytest.mark.parametrize("case", sorted(DECIDED_WRITES))
def test_a_withdrawal_first_refuses_a_write_deciding_from_the_right(
    api, owner, agent, case, request
):
    race = DECIDED_WRITES[case](api, owner, agent, request)
    answers: list = []
    with chain_held() as held:
        errors = queued(
            held, race.change, _poster(race.client, race.url, answers, race.body, race.method)
        )
    assert not errors, errors
    assert answers[0].status_code == race.refusal[0], answers[0].json()
    assert error_of(answers[0])["code"] == race.refusal[1]
    assert not race.written()
    user = race.client.token.user
    assert _trail(race.client, user, write=race.event) == [race.withdrawn]


@pytest.mark.parametrize("case", sorted(DECIDED_WRITES))
def test_a_write_deciding_from_the_right_first_precedes_its_withdrawal(
    api, owner, agent, case, request
):
    race = DECIDED_WRITES[case](api, owner, agent, request)
    answers: list = []
    with chain_held() as held:
        errors = queued(
            held, _poster(race.client, race.url, answers, race.body, race.method), race.change
        )
    assert not errors, errors
    assert answers[0].status_code in (200, 201), answers[0].json()
    assert race.written()
    user = race.client.token.user
    assert _trail(race.client, user, write=race.event) == [race.event, race.withdrawn]
