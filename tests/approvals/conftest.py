"""Fixtures the approvals tests share."""

import pytest

from agents.membership import Source, reviewer_assign
from audit.actors import Actor


@pytest.fixture
def assigned(agent, reviewers, staff):
    """pam1 is the agent's assigned PAM reviewer; pam2 is not."""
    reviewer_assign(
        actor=Actor.for_user(staff),
        agent=agent,
        user=reviewers["pam"][0],
        permission="review_pam",
        source=Source.PAGE,
    )
    return reviewers["pam"]
