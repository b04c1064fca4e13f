from django.core.management.base import BaseCommand

from audit.actors import Actor
from signoffs.services import checklists_load


class Command(BaseCommand):
    help = "Load the checklist versions shipped in signoffs/checklists/ that are not loaded yet."

    def handle(self, *args, **options):
        created = checklists_load(actor=Actor.system("load_checklists"))
        self.stdout.write(f"{len(created)} checklist version(s) loaded.")
