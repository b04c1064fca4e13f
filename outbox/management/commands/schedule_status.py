"""Whether beat runs every job of config/schedule.py: for monitoring and for staff."""

from django.core.management.base import BaseCommand, CommandError

from outbox.schedule import JobStatus, schedule_states


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
        stopped = [job.name for job in states if job.state != JobStatus.RUNNING]
        if stopped:
            raise CommandError(f"not running: {', '.join(stopped)}")
