"""manage.py groups set|add|remove|list: users' groups from the command line, audited."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from agents.membership import Source, user_groups_change, user_groups_set
from audit.actors import Actor
from config.errors import ApplicationError
from config.usernames import user_named, users_named

ACTOR = Actor.system("manage.py groups")


class Command(BaseCommand):
    help = "Change users' groups (config.roles.Group names); every change is an audit event."

    def add_arguments(self, parser):
        commands = parser.add_subparsers(dest="command", required=True)
        for verb, what in (
            ("set", "make these the user's groups (none: no group)"),
            ("add", "add the user to groups"),
            ("remove", "take the user out of groups"),
        ):
            command = commands.add_parser(verb, help=what)
            command.add_argument("username")
            command.add_argument("groups", nargs="*" if verb == "set" else "+")
        listing = commands.add_parser("list", help="list users and their groups")
        listing.add_argument("usernames", nargs="*")

    def handle(self, *args, **options):
        command = options["command"]
        if command == "list":
            return self._list(options["usernames"])
        user = user_named(options["username"])
        if user is None:
            raise CommandError(f"No user {options['username']!r}.")
        groups = options["groups"]
        try:
            if command == "set":
                user_groups_set(user, groups, actor=ACTOR, source=Source.COMMAND)
            else:
                change = {command: groups}
                user_groups_change(user, actor=ACTOR, source=Source.COMMAND, **change)
        except ApplicationError as error:
            details = "; ".join(f"{k}: {' '.join(v)}" for k, v in error.fields.items())
            raise CommandError(f"{error.message} {details}".strip()) from None
        self._list([user.username])

    def _list(self, usernames):
        users = get_user_model().objects.order_by("username").prefetch_related("groups")
        if usernames:
            named = users_named(usernames).values()
            users = users.filter(pk__in=[user.pk for user in named if user is not None])
        for user in users:
            names = ", ".join(sorted(group.name for group in user.groups.all()))
            self.stdout.write(f"{user.username}\t{names or 'no groups'}")
