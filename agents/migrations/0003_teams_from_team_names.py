"""Make a Team of every team name agents carry; the owners of its agents become its members."""

from django.db import migrations
from django.utils.text import slugify


def teams_from_names(apps, schema_editor):
    Agent = apps.get_model("agents", "Agent")
    Team = apps.get_model("agents", "Team")
    names = Agent.objects.exclude(team="").values_list("team", flat=True).distinct()
    for name in sorted(set(names)):
        # Names that differ only in case or punctuation share one slug, so one team.
        slug = slugify(name)[:100] or "team"
        team, _ = Team.objects.get_or_create(slug=slug, defaults={"name": name[:200]})
        agents = Agent.objects.filter(team=name)
        agents.update(team_ref=team)
        owners = Agent.owners.through.objects.filter(agent__in=agents).values_list(
            "user_id", flat=True
        )
        team.members.add(*set(owners))


def names_from_teams(apps, schema_editor):
    Agent = apps.get_model("agents", "Agent")
    for agent in Agent.objects.filter(team_ref__isnull=False).select_related("team_ref"):
        Agent.objects.filter(pk=agent.pk).update(team=agent.team_ref.name[:100])


class Migration(migrations.Migration):
    dependencies = [
        ("agents", "0002_team"),
    ]

    operations = [
        migrations.RunPython(teams_from_names, names_from_teams),
    ]
