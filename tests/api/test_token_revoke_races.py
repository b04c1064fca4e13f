"""A token revoked while its user's other work commits: both commit, one after the other.

Revoking locks the token's row alone: its user's row stays free for the key checks
PostgreSQL makes at the commit of any write naming that user (a package they create,
a decision they record), which holds the audit chain's lock the revocation waits for.
"""

import pytest

from approvals.models import ApprovalPackage
from audit.actors import Actor
from audit.models import AuditEvent
from tests.concurrency import raced
from tokens.models import ApiToken
from tokens.services import token_revoke

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_token_revoked_while_its_user_creates_a_package_is_revoked_after_it(
    workflow, agent, owner, make_token
):
    token, _ = make_token(owner)
    errors = raced(
        lambda: workflow.create(agent),
        lambda: token_revoke(actor=Actor.for_user(owner), token=token),
    )
    assert not errors, errors
    assert ApprovalPackage.objects.filter(agent=agent, created_by=owner).count() == 1
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None
    actions = list(
        AuditEvent.objects.filter(action__in=["package.created", "token.revoked"])
        .order_by("seq")
        .values_list("action", flat=True)
    )
    assert actions == ["package.created", "token.revoked"]
