"""Django's changepassword, setting the password through the service that audits it."""

import getpass

from django.contrib.auth.management.commands import changepassword
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from agents.membership import Source
from audit.actors import Actor
from config.usernames import user_named
from identity.services import user_password_set

ACTOR = Actor.system("manage.py changepassword")
MAX_TRIES = 3


def ask(prompt: str) -> str:
    """Read a password from the terminal; an empty one ends the command, as Django's does."""
    password = getpass.getpass(prompt=prompt)
    if not password:
        raise CommandError("aborted")
    return password


class Command(changepassword.Command):
    help = f"{changepassword.Command.help} The change is an audit event (user.password_set)."

    def handle(self, *args, **options):
        username = options["username"] or getpass.getuser()
        # The name typed, in any case (config.usernames).
        user = user_named(username, using=options["database"])
        if user is None:
            raise CommandError(f"user '{username}' does not exist")
        self.stdout.write(f"Changing password for user '{user}'")
        for _ in range(MAX_TRIES):
            password = ask("Password: ")
            if password != ask("Password (again): "):
                self.stdout.write("Passwords do not match. Please try again.")
                continue
            try:
                validate_password(password, user)
            except ValidationError as error:
                self.stderr.write("\n".join(error.messages))
                continue
            user_password_set(user, password, actor=ACTOR, source=Source.COMMAND)
            return f"Password changed successfully for user '{user}'"
        raise CommandError(f"Aborting password change for user '{user}' after {MAX_TRIES} attempts")
