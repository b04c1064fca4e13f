"""manage.py team create|add|remove|list: teams and their members from the command line."""

from django.core.management.base import BaseCommand, CommandError

from agents.membership import Source, team_members_change
from agents.models import Team
from agents.services import team_by_slug, team_create, users_by_username
from audit.actors import Actor
from config.errors import ApplicationError

ACTOR = Actor.system("manage.py team")


class Command(BaseCommand):
    help = "Create teams and change their members; every change is an audit event."

    def add_arguments(self, parser):
        commands = parser.add_subparsers(dest="command", required=True)
        create = commands.add_parser("create", help="create a team")
        create.add_argument("slug", help="the identifier agents and the API use, e.g. people-ops")
        create.add_argument("--name", required=True, help="how people know the team")
        for verb in ("add", "remove"):
            members = commands.add_parser(verb, help=f"{verb} members of a team")
            members.add_argument("slug")
            members.add_argument("usernames", nargs="+")
        commands.add_parser("list", help="list teams and their members")

    def handle(self, *args, **options):
        try:
            return getattr(self, f"_{options['command']}")(options)
        except ApplicationError as error:
            details = "; ".join(f"{k}: {' '.join(v)}" for k, v in error.fields.items())
            raise CommandError(f"{error.message} {details}".strip()) from None

    def _create(self, options):
        team = team_create(actor=ACTOR, slug=options["slug"], name=options["name"])
        self.stdout.write(f"Created team {team.slug} ({team.name}).")

    def _members(self, options, adding: bool):
        team = team_by_slug(options["slug"], user=None)
        if team is None:
            raise CommandError("Name a team.")
        users = users_by_username(options["usernames"])
        team = team_members_change(
            actor=ACTOR,
            team=team,
            source=Source.COMMAND,
            add=users if adding else (),
            remove=() if adding else users,
        )
        members = ", ".join(sorted(team.members.values_list("username", flat=True)))
        self.stdout.write(f"Team {team.slug}: {members or 'no members'}.")

    def _add(self, options):
        self._members(options, adding=True)

    def _remove(self, options):
        self._members(options, adding=False)

    def _list(self, options):
        for team in Team.objects.prefetch_related("members"):
            members = ", ".join(sorted(user.get_username() for user in team.members.all()))
            self.stdout.write(f"{team.slug}\t{team.name}\t{members}")
