# The team name column gives way to the Team that 0003 made of it.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("agents", "0003_teams_from_team_names"),
    ]

    operations = [
        migrations.RemoveField(
            model_name="agent",
            name="team",
        ),
        migrations.RenameField(
            model_name="agent",
            old_name="team_ref",
            new_name="team",
        ),
    ]
