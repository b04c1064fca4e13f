"""Copy the beat schedule written in config/schedule.py into django-celery-beat's tables."""

from django.core.management.base import BaseCommand
from django.db import transaction
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from config.schedule import SCHEDULE


class Command(BaseCommand):
    help = (
        "Create the periodic tasks of config/schedule.py that are missing and point kept ones "
        "at their task (--reset: overwrite all)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--reset", action="store_true", help="Overwrite entries staff edited in the admin."
        )

    @transaction.atomic
    def handle(self, *args, reset=False, **options):
        for name, entry in SCHEDULE.items():
            fields = {
                "minute": "*",
                "hour": "*",
                "day_of_week": "*",
                "day_of_month": "*",
                "month_of_year": "*",
                **entry["crontab"],
            }
            crontab, _ = CrontabSchedule.objects.get_or_create(timezone="UTC", **fields)
            defaults = {
                "task": entry["task"],
                "crontab": crontab,
                "interval": None,
                "description": entry["description"],
                "enabled": True,
            }
            existing = PeriodicTask.objects.filter(name=name).first()
            if existing is None:
                PeriodicTask.objects.create(name=name, **defaults)
                self.stdout.write(f"created {name}")
            elif reset:
                for key, value in defaults.items():
                    setattr(existing, key, value)
                existing.save()
                self.stdout.write(f"reset {name}")
            elif existing.task != entry["task"]:
                # Which task an entry runs is the code's; its timing and switch stay the staff's.
                existing.task = entry["task"]
                existing.save(update_fields=["task"])
                self.stdout.write(f"kept {name}, now running {entry['task']}")
            else:
                self.stdout.write(f"kept {name}")
