"""A sign-off dimension is decided by the reviewer group of the same name."""

from config.roles import REVIEWER_GROUPS
from signoffs.models import Dimension


def test_every_dimension_has_its_reviewer_group_and_no_group_is_left_over():
    assert list(Dimension.values) == [group.value for group in REVIEWER_GROUPS]
