"""Staff status, or a reviewer's account, withdrawn while its holder administers: the change
commits before the withdrawal, or not at all.

The signed-in user is read as the request began. A change of membership, a reviewer's
assignment, a sign-off's reassignment, an absence set or cleared and a service account's
token made by staff decide from their actor's row re-read under its lock
(`agents.membership.users_lock`), which the withdrawal holds from before its event until
it commits. So the trail never shows such a change
after the withdrawal of the right it rests on: either its event comes first, or it is
refused and leaves nothing behind. An absence's delegate is locked with its actor, so an
absence set as its delegate is deactivated or leaves the group does the same. Two people
changing each other lock both rows in id order, whoever acts first, and never deadlock.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.utils import timezone
from guardian.shortcuts import assign_perm

from agents.membership import (
    Source,
    group_permissions_set,
    reviewer_assign,
    reviewer_unassign,
    team_members_change,
    user_flags_set,
    user_groups_change,
    user_permissions_change,
    user_teams_change,
)
from approvals.delegation import signoff_reassign
from audit.actors import Actor
from audit.models import AuditEvent
from config.errors import InvalidInput, NotPermitted
from signoffs.absence import absence_clear, absence_set
from signoffs.models import Absence, Dimension
from tests.concurrency import Held, chain_held, queued
from tests.factories import AgentFactory, TeamFactory, UserFactory
from tokens.accounts import service_account_get_or_create
from tokens.models import ApiToken, Scope
from tokens.services import token_create

pytestmark = pytest.mark.django_db(transaction=True)
SYSTEM = Actor.system("staff")
STAFF_CHANGED, DEACTIVATED = "user.staff_changed", "user.active_changed"


@dataclass(frozen=True)
class Administered:
    write: Callable[[], object]  # made by `actor`, read as the request began
    event: str  # the write's
    written: Callable[[], bool]
    change: Callable[[], object]  # the withdrawal
    withdrawn: str  # its event
    code: str  # the refusal of a write that meets it
    error: type = NotPermitted


def _staff_withdrawn(staff):
    return lambda: user_flags_set(staff, actor=SYSTEM, source=Source.COMMAND, is_staff=False)


def _deactivated(user):
    return lambda: user_flags_set(user, actor=SYSTEM, source=Source.COMMAND, is_active=False)


def _by_staff(staff, write, event, written, code="not_staff", error=NotPermitted):
    return Administered(write, event, written, _staff_withdrawn(staff), STAFF_CHANGED, code, error)


def _groups(staff, ctx) -> Administered:
    other = UserFactory(username="newcomer")
    return _by_staff(
        staff,
        lambda: user_groups_change(
            other, actor=Actor.for_user(staff), source=Source.PAGE, add=["iam"]
        ),
        "user.groups_changed",
        lambda: other.groups.filter(name="iam").exists(),
    )


def _teams(staff, ctx) -> Administered:
    other, team = UserFactory(username="newcomer"), TeamFactory(slug="finance")
    return _by_staff(
        staff,
        lambda: user_teams_change(
            other, actor=Actor.for_user(staff), source=Source.PAGE, add=[team]
        ),
        "user.teams_changed",
        lambda: team.members.filter(pk=other.pk).exists(),
    )


def _team_members(staff, ctx) -> Administered:
    other, team = UserFactory(username="newcomer"), TeamFactory(slug="finance")
    return _by_staff(
        staff,
        lambda: team_members_change(
            actor=Actor.for_user(staff), team=team, source=Source.ADMIN, add=[other]
        ),
        "user.teams_changed",
        lambda: team.members.filter(pk=other.pk).exists(),
    )


def _flags(staff, ctx) -> Administered:
    other = UserFactory(username="leaver")
    return _by_staff(
        staff,
        lambda: user_flags_set(
            other, actor=Actor.for_user(staff), source=Source.ADMIN, is_active=False
        ),
        DEACTIVATED,
        lambda: not get_user_model().objects.get(pk=other.pk).is_active,
    )


def _permissions(staff, ctx) -> Administered:
    other = UserFactory(username="newcomer")
    permission = Permission.objects.get(codename="view_agent")
    return _by_staff(
        staff,
        lambda: user_permissions_change(
            other, actor=Actor.for_user(staff), source=Source.ADMIN, add=[permission]
        ),
        "user.permissions_changed",
        lambda: other.user_permissions.filter(pk=permission.pk).exists(),
    )


def _group_permissions(staff, ctx) -> Administered:
    group = Group.objects.create(name="auditors")
    permission = Permission.objects.get(codename="view_agent")
    return _by_staff(
        staff,
        lambda: group_permissions_set(
            group, [permission], actor=Actor.for_user(staff), source=Source.ADMIN
        ),
        "group.permissions_changed",
        lambda: group.permissions.filter(pk=permission.pk).exists(),
    )


def _assigned(staff, ctx) -> Administered:
    agent, reviewer = AgentFactory(owners=[ctx["owner"]]), ctx["reviewers"]["iam"][0]
    assign = {"agent": agent, "user": reviewer, "permission": "review_iam"}
    return _by_staff(
        staff,
        lambda: reviewer_assign(actor=Actor.for_user(staff), source=Source.PAGE, **assign),
        "agent.reviewer_assigned",
        lambda: get_user_model().objects.get(pk=reviewer.pk).has_perm("agents.review_iam", agent),
    )


def _unassigned(staff, ctx) -> Administered:
    agent, reviewer = AgentFactory(owners=[ctx["owner"]]), ctx["reviewers"]["iam"][0]
    assign_perm("agents.review_iam", reviewer, agent)
    assign = {"agent": agent, "user": reviewer, "permission": "review_iam"}
    return _by_staff(
        staff,
        lambda: reviewer_unassign(actor=Actor.for_user(staff), source=Source.PAGE, **assign),
        "agent.reviewer_unassigned",
        lambda: (
            not get_user_model().objects.get(pk=reviewer.pk).has_perm("agents.review_iam", agent)
        ),
    )


def _reassigned(staff, ctx) -> Administered:
    package = ctx["workflow"].submit(AgentFactory(owners=[ctx["owner"]]))
    signoff = package.signoffs.get(dimension=Dimension.PAM)
    reviewer = ctx["reviewers"]["pam"][1]
    return _by_staff(
        staff,
        lambda: signoff_reassign(
            actor=Actor.for_user(staff),
            package=package,
            dimension=Dimension.PAM,
            user=reviewer,
            reason="Covering a leave.",
        ),
        "signoff.reassigned",
        lambda: type(signoff).objects.get(pk=signoff.pk).assigned_to_id == reviewer.pk,
    )


def _absence(actor, reviewer, delegate):
    now = timezone.now()
    return lambda: absence_set(
        actor=actor,
        reviewer=reviewer,
        dimension=Dimension.IAM,
        delegate=delegate,
        starts_at=now,
        ends_at=now + timedelta(days=7),
    )


def _absence_set(staff, ctx) -> Administered:
    reviewer, delegate = ctx["reviewers"]["iam"]
    return _by_staff(
        staff,
        _absence(Actor.for_user(staff), reviewer, delegate),
        "absence.set",
        Absence.objects.exists,
        "not_permitted",
    )


def _absence_cleared(staff, ctx) -> Administered:
    reviewer, delegate = ctx["reviewers"]["iam"]
    absence = _absence(Actor.for_user(reviewer), reviewer, delegate)()
    return _by_staff(
        staff,
        lambda: absence_clear(actor=Actor.for_user(staff), absence=absence),
        "absence.cleared",
        lambda: not Absence.objects.exists(),
        "not_permitted",
    )


def _own_absence_set(staff, ctx) -> Administered:
    reviewer, delegate = ctx["reviewers"]["iam"]
    return Administered(
        _absence(Actor.for_user(reviewer), reviewer, delegate),
        "absence.set",
        Absence.objects.exists,
        _deactivated(reviewer),
        DEACTIVATED,
        "not_permitted",
    )


def _own_absence_cleared(staff, ctx) -> Administered:
    reviewer, delegate = ctx["reviewers"]["iam"]
    absence = _absence(Actor.for_user(reviewer), reviewer, delegate)()
    return Administered(
        lambda: absence_clear(actor=Actor.for_user(reviewer), absence=absence),
        "absence.cleared",
        lambda: not Absence.objects.exists(),
        _deactivated(reviewer),
        DEACTIVATED,
        "not_permitted",
    )


def _delegate_withdrawn(withdrawal, event, code):
    def build(staff, ctx) -> Administered:
        reviewer, delegate = ctx["reviewers"]["iam"]
        return Administered(
            _absence(Actor.for_user(reviewer), reviewer, delegate),
            "absence.set",
            Absence.objects.exists,
            withdrawal(delegate),
            event,
            code,
            InvalidInput,
        )

    return build


def _left_iam(user):
    return lambda: user_groups_change(user, actor=SYSTEM, source=Source.COMMAND, remove=["iam"])


def _service_token(staff, ctx) -> Administered:
    robot = service_account_get_or_create(actor=SYSTEM, username="ci-bot")
    return _by_staff(
        staff,
        lambda: token_create(
            actor=Actor.for_user(staff), user=robot, name="ci", scopes=[Scope.GATE_CHECK]
        ),
        "token.created",
        ApiToken.objects.filter(user=robot).exists,
        "invalid",
        InvalidInput,
    )


ADMINISTERED = {
    "groups of another, staff withdrawn": _groups,
    "teams of another, staff withdrawn": _teams,
    "team's members, staff withdrawn": _team_members,
    "flags of another, staff withdrawn": _flags,
    "permissions of another, staff withdrawn": _permissions,
    "group's permissions, staff withdrawn": _group_permissions,
    "reviewer assigned, staff withdrawn": _assigned,
    "reviewer unassigned, staff withdrawn": _unassigned,
    "sign-off reassigned, staff withdrawn": _reassigned,
    "absence of another set, staff withdrawn": _absence_set,
    "absence of another cleared, staff withdrawn": _absence_cleared,
    "own absence set, deactivated": _own_absence_set,
    "own absence cleared, deactivated": _own_absence_cleared,
    "absence set, delegate deactivated": _delegate_withdrawn(
        _deactivated, DEACTIVATED, "inactive_user"
    ),
    "absence set, delegate left the group": _delegate_withdrawn(
        _left_iam, "user.groups_changed", "not_reviewer"
    ),
    "service account's token, staff withdrawn": _service_token,
}


@pytest.fixture
def race(request, staff, owner, reviewers, workflow, audit_since):
    ctx = {"owner": owner, "reviewers": reviewers, "workflow": workflow}
    return ADMINISTERED[request.param](staff, ctx), audit_since()


def _trail(race: Administered, since) -> list[str]:
    return [event.action for event in since() if event.action in (race.event, race.withdrawn)]


@pytest.mark.parametrize("race", sorted(ADMINISTERED), indirect=True)
def test_a_withdrawal_first_refuses_the_change_resting_on_it(race):
    race, since = race
    # The withdrawal holds the actor's row and waits for the chain's lock; the change waits
    # for that row and reads the withdrawal once it has it.
    with chain_held() as held:
        errors = queued(held, race.change, race.write)
    assert [(type(e), e.code) for e in errors] == [(race.error, race.code)], errors
    assert not race.written()
    assert _trail(race, since) == [race.withdrawn]


@pytest.mark.parametrize("race", sorted(ADMINISTERED), indirect=True)
def test_a_change_first_precedes_the_withdrawal(race):
    race, since = race
    with chain_held() as held:
        errors = queued(held, race.write, race.change)
    assert not errors, errors
    assert race.written()
    assert _trail(race, since) == [race.event, race.withdrawn]


@pytest.mark.parametrize("lower_acts_first", [True, False])
def test_two_staff_changing_each_other_lock_both_in_id_order(lower_acts_first):
    lower, higher = UserFactory(username="ada", is_staff=True), UserFactory(is_staff=True)
    assert lower.pk < higher.pk
    changes = [
        lambda: user_groups_change(
            higher, actor=Actor.for_user(lower), source=Source.PAGE, add=["iam"]
        ),
        lambda: user_groups_change(
            lower, actor=Actor.for_user(higher), source=Source.PAGE, add=["pam"]
        ),
    ]
    if not lower_acts_first:
        changes.reverse()
    table = get_user_model()._meta.db_table
    # The lower row held: the first change waits for it; locking its own row or its
    # subject's first, the second would then hold the other row the first needs next.
    with Held(f"SELECT 1 FROM {table} WHERE id = %s FOR UPDATE", [lower.pk]) as held:  # noqa: S608
        errors = queued(held, *changes)
    assert not errors, errors
    assert higher.groups.filter(name="iam").exists()
    assert lower.groups.filter(name="pam").exists()
    events = AuditEvent.objects.filter(action="user.groups_changed")
    assert events.count() == 2
