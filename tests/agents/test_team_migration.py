"""The migration from team names to teams: a team per name, its agents' owners its members."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from agents.models import Agent, Team

BEFORE = [("agents", "0002_team")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets or executor.loader.graph.leaf_nodes())
    return executor


@pytest.mark.django_db(transaction=True)
def test_team_names_become_teams_whose_members_are_their_agents_owners():
    executor = migrate(BEFORE)
    try:
        apps = executor.loader.project_state(BEFORE).apps
        User = apps.get_model("auth", "User")
        OldAgent = apps.get_model("agents", "Agent")
        olivia, otto, pia = (User.objects.create(username=n) for n in ("olivia", "otto", "pia"))
        for slug, team, owners in [
            ("care-bot", "customer-care", [olivia]),
            ("care-two", "Customer Care", [otto]),
            ("hr-bot", "People Ops", [pia]),
            ("loner", "", [olivia, pia]),
        ]:
            agent = OldAgent.objects.create(
                slug=slug,
                name=slug,
                team=team,
                workload_id=f"spiffe://prod.example.com/ns/x/sa/{slug}",
                log_principal=f"agent:{slug}",
                deployment="internal_copilot",
            )
            agent.owners.set(owners)
    finally:
        migrate(None)
    teams = {
        team.slug: (team.name, sorted(team.members.values_list("username", flat=True)))
        for team in Team.objects.all()
    }
    # Names that differ only in case or spacing were one team all along.
    assert teams == {
        "customer-care": ("Customer Care", ["olivia", "otto"]),
        "people-ops": ("People Ops", ["pia"]),
    }
    slugs = dict(Agent.objects.values_list("slug", "team__slug"))
    assert slugs == {
        "care-bot": "customer-care",
        "care-two": "customer-care",
        "hr-bot": "people-ops",
        "loner": None,
    }
