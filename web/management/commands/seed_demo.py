from django.core.management.base import BaseCommand, CommandError

from config.errors import ApplicationError
from web.demo import DEMO_PASSWORD, DEMO_USERS, seed_demo


class Command(BaseCommand):
    help = "Create demo users for every role and agents in each state (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--list-logins", action="store_true", help="Only list demo logins.")

    def handle(self, *args, **options):
        if options["list_logins"]:
            for username, (_, _, description) in DEMO_USERS.items():
                self.stdout.write(f"  {username:<12} {description}")
            self.stdout.write(f"  password: {DEMO_PASSWORD}")
            return
        try:
            created = seed_demo()
        except ApplicationError as error:
            raise CommandError(error.message) from None
        self.stdout.write(f"Demo data ready ({len(created)} agent(s) created).")
