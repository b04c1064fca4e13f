"""Django's changepassword, with the change recorded in the audit trail."""

from django.contrib.auth.management.commands import changepassword

from agents.membership import Source
from audit.actors import Actor
from identity.management.recorded import UserSavesRecorded
from identity.services import user_password_record

ACTOR = Actor.system("manage.py changepassword")


class Command(UserSavesRecorded, changepassword.Command):
    help = f"{changepassword.Command.help} The change is an audit event (user.password_set)."

    def record(self, user, created):
        user_password_record(user, actor=ACTOR, source=Source.COMMAND)
