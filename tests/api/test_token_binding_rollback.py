"""Taking the token binding migration back never leaves a bound token in use unbound.

Unapplying tokens 0005 drops the table of bindings; applying it again restores none, so
a token bound to one agent would reach every agent its user may see.
"""

import pytest
from django.db import connection
from django.db.migrations.exceptions import IrreversibleError
from django.db.migrations.executor import MigrationExecutor

from audit.actors import Actor
from tests.factories import AgentFactory
from tokens.models import ApiToken
from tokens.services import token_revoke

BEFORE_BINDING = [("tokens", "0004_idempotency_record_moves_to_api")]

pytestmark = pytest.mark.django_db(transaction=True)


def migrate(targets=None):
    executor = MigrationExecutor(connection)
    executor.migrate(targets or executor.loader.graph.leaf_nodes())


def applied(name: str) -> bool:
    return ("tokens", name) in MigrationExecutor(connection).loader.applied_migrations


def test_unapplying_is_refused_while_a_bound_token_is_in_use(make_token, owner):
    agent = AgentFactory(slug="bound-one", owners=[owner])
    token, _ = make_token(owner, "gate:check", agents=[agent])
    try:
        with pytest.raises(IrreversibleError, match=token.prefix):
            migrate(BEFORE_BINDING)
        assert applied("0005_bound_agents_and_read_scope")
        assert list(ApiToken.objects.get(pk=token.pk).agents.all()) == [agent]

        token_revoke(actor=Actor.system("tests"), token=token)
        migrate(BEFORE_BINDING)
        assert not applied("0005_bound_agents_and_read_scope")
    finally:
        migrate()
    assert list(ApiToken.objects.get(pk=token.pk).agents.all()) == []
