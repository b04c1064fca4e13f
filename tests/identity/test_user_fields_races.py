"""A change of a user's own fields while their other work commits: both commit, in turn.

Renaming a user, changing their email or password locks their row without changing its
key (`agents.membership.user_lock`): PostgreSQL's key check at the commit of a write
naming the user (a package they create), which holds the audit chain's lock the change
waits for, does not wait for it.
"""

import pytest

from agents.membership import Source
from approvals.models import ApprovalPackage
from audit.actors import Actor
from audit.models import AuditEvent
from identity.services import user_email_set, user_names_set, user_password_set
from tests.concurrency import raced

pytestmark = pytest.mark.django_db(transaction=True)

STAFF = Actor.system("staff")
CHANGES = {
    "user.email_changed": lambda user: user_email_set(
        user, "new@example.com", actor=STAFF, source=Source.COMMAND
    ),
    "user.renamed": lambda user: user_names_set(
        user, actor=STAFF, source=Source.COMMAND, first_name="Renamed"
    ),
    "user.password_set": lambda user: user_password_set(
        user, None, actor=STAFF, source=Source.COMMAND
    ),
}


@pytest.mark.parametrize("action", CHANGES)
def test_a_change_of_a_user_while_they_create_a_package_commits_after_it(
    workflow, agent, owner, action
):
    errors = raced(lambda: workflow.create(agent), lambda: CHANGES[action](owner))
    assert not errors, errors
    assert ApprovalPackage.objects.filter(agent=agent, created_by=owner).count() == 1
    actions = list(
        AuditEvent.objects.filter(action__in=["package.created", action])
        .order_by("seq")
        .values_list("action", flat=True)
    )
    assert actions == ["package.created", action]
