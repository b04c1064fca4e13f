"""Which scopes each role grants a token: config.roles is the one definition."""

import pytest

from config.roles import SCOPE_GROUPS, Group, Scope, scope_granted, scopes_granted
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

# What any user may do: what it reaches is the agents they may see.
EVERYONE = [Scope.GATE_CHECK, Scope.AGENTS_READ, Scope.COMMENTS_WRITE, Scope.DECISIONS_EVALUATE]


@pytest.mark.parametrize(
    ("groups", "expected"),
    [
        ([], EVERYONE),
        ([Group.PRODUCT_OWNER], [*EVERYONE, Scope.PACKAGES_WRITE, Scope.OBSERVATIONS_WRITE]),
        ([Group.IAM], [*EVERYONE, Scope.REVIEWS_WRITE]),
        ([Group.SECURITY], [*EVERYONE, Scope.REVIEWS_WRITE]),
        ([Group.COMPLIANCE], [*EVERYONE, Scope.AUDIT_READ, Scope.REVIEWS_WRITE]),
        ([Group.COMPLIANCE_OFFICER], [*EVERYONE, Scope.AUDIT_READ]),
    ],
)
def test_each_role_grants_its_scopes(groups, expected):
    user = UserFactory(groups=groups)
    assert sorted(scopes_granted(user)) == sorted(expected)
    for scope in Scope.values:
        assert scope_granted(user, scope) == (scope in expected), scope


def test_staff_hold_every_scope_and_an_inactive_user_none():
    staff = UserFactory(is_staff=True)
    assert scopes_granted(staff) == list(Scope.values)
    staff.is_active = False
    assert scopes_granted(staff) == []
    assert not scope_granted(staff, Scope.GATE_CHECK)


def test_every_scope_has_a_rule():
    assert set(SCOPE_GROUPS) == set(Scope.values)
    assert not scope_granted(UserFactory(), "no:such-scope")
