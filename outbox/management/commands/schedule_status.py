"""Whether beat runs every job of config/schedule.py: for monitoring and for staff."""

from django.core.management.base import BaseCommand

from outbox.schedule import RUNNING, schedule_states


class Command(BaseCommand):
    help = (
        "List each periodic job of config/schedule.py with its last run, the run it owes and "
        "whether it is running, late, off or missing; exit 1 unless every one is running."
    )

    def handle(self, *args, **options):
        states = schedule_states()
        for job in states:
            last = f"{job.last_run_at:%Y-%m-%d %H:%M} UTC" if job.last_run_at else "never"
            due = f"{job.due_at:%Y-%m-%d %H:%M} UTC" if job.due_at else "-"
            self.stdout.write(f"{job.state:<8} {job.name:<24} last run {last:<21} due {due}")
        if any(job.state != RUNNING for job in states):
            raise SystemExit(1)
