"""A sign-off dimension is decided by the reviewer group of the same name."""

from agents.models import Agent
from agents.permissions import (
    ASSIGNABLE_PERMISSIONS,
    SUSPEND_GROUPS,
    SUSPEND_PERMISSION,
    fallback_permission,
    review_permission,
)
from approvals.models import EMERGENCY_DIMENSIONS
from config.roles import REVIEWER_GROUPS, Group
from signoffs.models import Dimension


def test_every_dimension_has_its_reviewer_group_and_no_group_is_left_over():
    assert list(Dimension.values) == [group.value for group in REVIEWER_GROUPS]


def test_rules_name_groups_and_dimensions_by_their_members():
    assert all(isinstance(group, Group) for group in SUSPEND_GROUPS)
    assert all(isinstance(dimension, Dimension) for dimension in EMERGENCY_DIMENSIONS)


def test_an_agent_has_a_review_and_a_fallback_permission_per_dimension_and_no_other():
    expected = [
        *(review_permission(d) for d in Dimension.values),
        SUSPEND_PERMISSION,
        *(fallback_permission(d) for d in Dimension.values),
    ]
    assert [codename for codename, _ in Agent._meta.permissions] == expected
    assert sorted(ASSIGNABLE_PERMISSIONS) == sorted(expected)
