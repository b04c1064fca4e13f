"""Copy the beat schedule written in config/schedule.py into django-celery-beat's tables."""

from django.core.management.base import BaseCommand

from audit.actors import Actor
from config.schedule import SCHEDULE
from outbox.schedule import REPOINTED, schedule_sync


class Command(BaseCommand):
    help = (
        "Create the periodic tasks of config/schedule.py that are missing and point kept ones "
        "at their task (--reset: overwrite all)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--reset", action="store_true", help="Overwrite entries staff edited in the admin."
        )

    def handle(self, *args, reset=False, **options):
        outcome = schedule_sync(actor=Actor.system("manage.py sync_schedule"), reset=reset)
        for name, happened in outcome.items():
            task = f", now running {SCHEDULE[name]['task']}" if happened == REPOINTED else ""
            self.stdout.write(f"{happened} {name}{task}")
