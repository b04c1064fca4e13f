from django.core.management.base import BaseCommand, CommandError

from approvals.checklists import checklists_load
from audit.actors import Actor
from signoffs.services import ChecklistFileError


class Command(BaseCommand):
    help = "Load the checklist versions shipped in signoffs/checklists/ that are not loaded yet."

    def handle(self, *args, **options):
        try:
            created = checklists_load(actor=Actor.system("load_checklists"))
        except ChecklistFileError as error:
            raise CommandError(f"Nothing loaded: {error}") from error
        self.stdout.write(f"{len(created)} checklist version(s) loaded.")
