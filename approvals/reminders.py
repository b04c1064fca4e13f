"""Daily reminders of every pending sign-off to the reviewers it waits for.

A sign-off in review for at least `REMIND_AFTER` is reminded once a day: its
assigned reviewers (or the group where none is assigned) and the delegates of
those who are absent get one mail naming the package, the dimension and the
page. A `Reminder` row keyed by the sign-off and the day makes a re-run that
day send nothing. Past the review target the escalation job
(`approvals.recertification.reviews_escalate_late`) tells the fallback
reviewers and staff; the reminder keeps going to the reviewers.

`signoff.reminded`, target the sign-off, data {"dimension", "reviewers",
"overdue"}.
"""

from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import CharField, Exists, OuterRef, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from approvals.delegation import signoff_waiting_for
from approvals.locks import package_lock
from approvals.models import PackageState
from approvals.recertification import JobRun
from audit.actors import Actor
from audit.services import audit_record
from outbox.models import Reminder
from outbox.services import notify
from signoffs.models import SignOff, SignOffState
from signoffs.sla import overdue_since, review_started_at, started_by

REMINDED = "signoff.reminded"
# The notice of submission (or of a re-opening) is the first word to reviewers; reminders
# start a day after the review does (`signoffs.sla.review_started_at`).
REMIND_AFTER = timedelta(days=1)


REMINDER_KEY = "signoff-reminder:"


def reminder_key(signoff_pk: int, day) -> str:
    """Return the key of a sign-off's reminder of a given day (a date)."""
    return f"{REMINDER_KEY}{day.isoformat()}:{signoff_pk}"


def signoff_remind(*, actor: Actor, signoff: SignOff, now=None) -> bool:
    """Remind the reviewers a pending sign-off waits for, once a day; return whether it did.

    The agent's and the package's rows are locked first (`approvals.locks`), so a decision
    closing the package meanwhile is seen.
    """
    now = now or timezone.now()
    with transaction.atomic():
        package = package_lock(signoff.package)
        signoff = (
            SignOff.objects.select_for_update(no_key=True, of=("self",))
            .select_related("assigned_to")
            .get(pk=signoff.pk)
        )
        signoff.package = package
        started_at = review_started_at(signoff)
        if (
            signoff.state != SignOffState.PENDING
            or package.state != PackageState.IN_REVIEW
            or started_at is None
            or started_at > now - REMIND_AFTER
        ):
            return False
        try:
            with transaction.atomic():
                Reminder.objects.create(key=reminder_key(signoff.pk, now.date()))
        except IntegrityError:
            return False
        reviewers = signoff_waiting_for(signoff, now)
        due = overdue_since(signoff)
        overdue = due is not None and due <= now
        audit_record(
            actor=actor,
            action=REMINDED,
            target=signoff,
            agent_slug=package.agent.slug,
            package_version=package.version,
            data={
                "dimension": signoff.dimension,
                "reviewers": [user.get_username() for user in reviewers],
                "overdue": overdue,
            },
        )
        notify(
            "signoff.reminder",
            package=package,
            data={
                "dimension": signoff.dimension,
                "reviewers": ", ".join(user.get_username() for user in reviewers),
                "waiting_since": started_at.isoformat(),
                "overdue_since": due.isoformat() if overdue else "",
                "recipients": sorted({user.email for user in reviewers if user.email}),
            },
        )
    return True


def reviews_remind_pending(*, actor: Actor, now=None) -> JobRun:
    """Remind the reviewers of every sign-off pending for a day or more, not reminded today."""
    now = now or timezone.now()
    run = JobRun()
    prefix = reminder_key(0, now.date()).removesuffix("0")
    # A day's keys only keep that day's re-runs from reminding twice; those of the days
    # before (ISO dates sort as they fall) are never read again.
    Reminder.objects.filter(key__startswith=REMINDER_KEY, key__lt=prefix).delete()
    reminded = Reminder.objects.filter(key=Concat(Value(prefix), Cast(OuterRef("pk"), CharField())))
    open_signoffs = SignOff.objects.filter(
        state=SignOffState.PENDING, package__state=PackageState.IN_REVIEW
    )
    pending = (
        started_by(open_signoffs, now - REMIND_AFTER)
        .exclude(Exists(reminded))
        .select_related("package__agent")
        .order_by("review_from", "pk")
    )
    for signoff in pending:
        label = f"{signoff.package.agent.slug} v{signoff.package.version} {signoff.dimension}"
        done = signoff_remind(actor=actor, signoff=signoff, now=now)
        (run.done if done else run.skipped).append(label)
    return run
