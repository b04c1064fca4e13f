"""Keep approvals current: open re-certifications, expire approvals, escalate late reviews.

Each job reads what is due from the database (so a missed run catches up on
the next one), handles each item in its own transaction under a row lock,
re-checks the state it is about to change, and leaves a mark (a package, a
state, a `Reminder` row) that makes the next run skip it.
"""

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import CharField, Exists, OuterRef, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from approvals.delegation import signoff_fallbacks
from approvals.locks import package_lock
from approvals.models import ApprovalPackage, PackageState
from approvals.policy import kill_switch_problem, recertification_lead
from approvals.services import package_create, package_expire, package_submit
from audit.actors import Actor
from audit.services import audit_record
from config.errors import ApplicationError, InvalidInput
from outbox.models import Reminder
from outbox.services import notify
from signoffs.models import SignOff, SignOffState
from signoffs.permissions import review_permission
from signoffs.sla import overdue_by, overdue_since, review_sla, review_started_at

logger = logging.getLogger(__name__)

ESCALATION_KEY = "signoff-escalated:"
REMINDER_KEY = "recertification-reminder:"
# Reviewers of a re-certification still open this close to the expiry are reminded once.
REMINDER_DAYS_BEFORE_EXPIRY = 3


@dataclass
class JobRun:
    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"done": self.done, "skipped": self.skipped, "failed": self.failed}


def recertification_due(now=None):
    """Return the approvals whose re-certification should be open and is not.

    A review in full stands in for it: its approval re-certifies the scope. A review
    carrying sign-offs over does not (its approval keeps the expiry it carries), and
    neither does a re-certification a newer version superseded.
    """
    now = now or timezone.now()
    carrying = SignOff.objects.filter(package_id=OuterRef("pk"), state=SignOffState.CARRIED_OVER)
    in_full_review = ApprovalPackage.objects.filter(
        agent_id=OuterRef("agent_id"), state=PackageState.IN_REVIEW
    ).exclude(Exists(carrying))
    recertified = ApprovalPackage.objects.filter(
        base_id=OuterRef("pk"), is_recertification=True
    ).exclude(state__in=[PackageState.SUPERSEDED, PackageState.REVOKED])
    return (
        ApprovalPackage.objects.filter(
            state=PackageState.APPROVED,
            expires_at__lte=now + recertification_lead(),
            expires_at__gt=now,
        )
        .exclude(Exists(in_full_review))
        .exclude(Exists(recertified))
        .select_related("agent")
        .order_by("expires_at")
    )


def recertification_open(*, actor: Actor, package: ApprovalPackage) -> ApprovalPackage | None:
    """Open the re-certification of an approval: a new version of the same scope, in review.

    Return the new package, or None when there is nothing to do any more
    (expired, superseded, a review already open, or opened by another run). A review
    carrying sign-offs over is superseded by it.
    """
    with transaction.atomic():
        package = package_lock(package)
        if not recertification_due().filter(pk=package.pk).exists():
            return None
        draft = package_create(
            actor=actor, agent=package.agent, manifest=package.manifest, is_recertification=True
        )
        _kill_switch_check(draft, package)
        superseded = (
            package.agent.packages.filter(state=PackageState.IN_REVIEW)
            .values_list("version", flat=True)
            .first()
        )
        draft = package_submit(actor=actor, package=draft)
        audit_record(
            actor=actor,
            action="recertification.opened",
            target=draft,
            agent_slug=package.agent.slug,
            package_version=draft.version,
            data={
                "recertifies_version": package.version,
                "expires_at": package.expires_at.isoformat(),
                "supersedes_version": superseded,
            },
        )
        notify(
            "recertification.due",
            package=draft,
            data={
                "recertifies_version": package.version,
                "expires_at": package.expires_at.isoformat(),
                "supersedes_version": superseded,
            },
        )
    return draft


def _kill_switch_check(draft: ApprovalPackage, package: ApprovalPackage) -> None:
    """Refuse a re-certification whose kill-switch test is too old by the approval's expiry.

    The review must be approved by then, and the approval checks the test's age on
    its own day (`approvals.services`): a test that will be too old before the
    expiry would give a review nobody can approve, so the owners test again first.
    """
    expiry = package.expires_at.date()
    stale = kill_switch_problem(draft, expiry)
    if stale:
        message = (
            f"The re-certification of v{package.version} must be approved by {expiry}, when "
            f"its approval expires, and on that day: {stale} Test the kill switch again and "
            "submit a version with the new date."
        )
        raise InvalidInput(
            message,
            code="kill_switch_untested",
            fields={"manifest.kill_switch.last_tested": [message]},
        )


def _blocked(actor: Actor, package: ApprovalPackage, error: ApplicationError) -> None:
    """Tell the owners, once a day, why the re-certification could not open."""
    key = f"recertification-blocked:{package.pk}:{timezone.now().date().isoformat()}"
    try:
        with transaction.atomic():
            Reminder.objects.create(key=key)
            audit_record(
                actor=actor,
                action="recertification.blocked",
                target=package,
                agent_slug=package.agent.slug,
                package_version=package.version,
                data={"code": error.code, "message": error.message},
            )
            notify(
                "recertification.blocked",
                package=package,
                data={"reason": error.message, "expires_at": package.expires_at.isoformat()},
            )
    except IntegrityError:
        pass


def recertifications_open_due(*, actor: Actor) -> JobRun:
    """Open every re-certification that is due."""
    run = JobRun()
    for package in recertification_due():
        label = f"{package.agent.slug} v{package.version}"
        try:
            opened = recertification_open(actor=actor, package=package)
        except ApplicationError as error:
            logger.warning("re-certification of %s blocked: %s", label, error.message)
            _blocked(actor, package, error)
            run.failed.append(label)
            continue
        (run.done if opened else run.skipped).append(label)
    return run


def approvals_expire_due(*, actor: Actor) -> JobRun:
    """Expire every approval past its date (the gate already denies it from that moment)."""
    run = JobRun()
    due = ApprovalPackage.objects.filter(
        state=PackageState.APPROVED, expires_at__lte=timezone.now()
    ).select_related("agent")
    for package in due:
        label = f"{package.agent.slug} v{package.version}"
        (run.done if package_expire(actor=actor, package=package) else run.skipped).append(label)
    return run


def _other_reviewers(signoff: SignOff) -> list:
    """Return the dimension's reviewers other than those the review was waiting for.

    Where the agent has reviewers assigned for the dimension, the others are
    the rest of the group; otherwise the whole group. The agent's owners (now or
    since the submission) and the submitter never count as reviewers (`can_decide`).
    """
    package, agent = signoff.package, signoff.package.agent
    group = (
        get_user_model()
        .objects.filter(groups__name=signoff.dimension, is_active=True)
        .exclude(pk__in=agent.owners.values("pk"))
        .exclude(pk__in=package.owners_in_review.values("pk"))
    )
    for excluded in (package.submitted_by_id, package.created_by_id):
        if excluded is not None:
            group = group.exclude(pk=excluded)
    assigned = group.filter(
        userobjectpermission__object_pk=str(agent.pk),
        userobjectpermission__permission__codename=review_permission(signoff.dimension),
    )
    others = group.exclude(pk__in=assigned.values("pk"))
    return list((others if others.exists() else group).distinct().order_by("username"))


def _staff() -> list:
    return list(get_user_model().objects.filter(is_staff=True, is_active=True).order_by("username"))


def signoff_escalate(*, actor: Actor, signoff: SignOff) -> bool:
    """Escalate one late sign-off, once per review (its re-opening starts another), to the
    agent's fallback reviewers of the dimension (failing them, the dimension's other
    reviewers) and to staff; return if it did.

    The agent's and the package's rows are locked first (`approvals.locks`), so a decision
    closing the package meanwhile is seen.
    """
    with transaction.atomic():
        package = package_lock(signoff.package)
        signoff = SignOff.objects.select_for_update(no_key=True).get(pk=signoff.pk)
        signoff.package = package
        sla = review_sla(signoff.dimension)
        due = overdue_since(signoff)
        if (
            signoff.state != SignOffState.PENDING
            or package.state != PackageState.IN_REVIEW
            or due is None
            or due > timezone.now()
        ):
            return False
        key = f"{ESCALATION_KEY}{signoff.pk}"
        # Once per review: one sent before the sign-off re-opened escalated an earlier review.
        Reminder.objects.filter(key=key, sent_at__lt=review_started_at(signoff)).delete()
        try:
            with transaction.atomic():
                Reminder.objects.create(key=key)
        except IntegrityError:
            return False
        fallbacks = signoff_fallbacks(signoff)
        reviewers = fallbacks or _other_reviewers(signoff)
        staff = _staff()
        days = (timezone.now() - review_started_at(signoff)).days
        audit_record(
            actor=actor,
            action="signoff.escalated",
            target=signoff,
            agent_slug=package.agent.slug,
            package_version=package.version,
            data={
                "dimension": signoff.dimension,
                "pending_days": days,
                "sla_days": sla.days,
                "escalated_to": [user.get_username() for user in reviewers],
                "to_fallbacks": bool(fallbacks),
                "staff": [user.get_username() for user in staff],
            },
        )
        notify(
            "signoff.escalated",
            package=package,
            data={
                "dimension": signoff.dimension,
                "pending_days": days,
                "overdue_since": due.isoformat(),
                "escalated_to": ", ".join(user.get_username() for user in reviewers),
                "recipients": sorted({u.email for u in [*reviewers, *staff] if u.email}),
            },
        )
    return True


def reviews_escalate_late(*, actor: Actor) -> JobRun:
    """Escalate every sign-off pending past its dimension's review SLA, once."""
    run = JobRun()
    escalated = Reminder.objects.filter(
        key=Concat(Value(ESCALATION_KEY), Cast(OuterRef("pk"), CharField())),
        sent_at__gte=OuterRef("review_from"),
    )
    pending = SignOff.objects.filter(
        state=SignOffState.PENDING, package__state=PackageState.IN_REVIEW
    )
    late = (
        overdue_by(pending, timezone.now())
        .exclude(Exists(escalated))
        .select_related("package__agent")
        .order_by("review_from", "pk")
    )
    for signoff in late:
        label = f"{signoff.package.agent.slug} v{signoff.package.version} {signoff.dimension}"
        (run.done if signoff_escalate(actor=actor, signoff=signoff) else run.skipped).append(label)
    return run


def recertification_remind(*, actor: Actor, package: ApprovalPackage) -> bool:
    """Remind the reviewers of a re-certification still pending near the expiry, once."""
    with transaction.atomic():
        package = package_lock(package)
        base = package.base
        if (
            package.state != PackageState.IN_REVIEW
            or not package.is_recertification
            or base is None
            or base.expires_at is None
        ):
            return False
        try:
            with transaction.atomic():
                Reminder.objects.create(key=f"{REMINDER_KEY}{package.pk}")
        except IntegrityError:
            return False
        pending = list(
            package.signoffs.filter(state=SignOffState.PENDING).values_list("dimension", flat=True)
        )
        audit_record(
            actor=actor,
            action="recertification.reminded",
            target=package,
            agent_slug=package.agent.slug,
            package_version=package.version,
            data={"pending": pending, "expires_at": base.expires_at.isoformat()},
        )
        notify(
            "recertification.due",
            package=package,
            data={
                "reminder": True,
                "pending_dimensions": ", ".join(pending),
                "expires_at": base.expires_at.isoformat(),
            },
        )
    return True


def recertifications_remind_due(*, actor: Actor) -> JobRun:
    """Remind reviewers of every re-certification pending within days of the expiry."""
    run = JobRun()
    reminded = Reminder.objects.filter(
        key=Concat(Value(REMINDER_KEY), Cast(OuterRef("pk"), CharField()))
    )
    due = (
        ApprovalPackage.objects.filter(
            state=PackageState.IN_REVIEW,
            is_recertification=True,
            base__expires_at__lte=timezone.now() + timedelta(days=REMINDER_DAYS_BEFORE_EXPIRY),
        )
        .exclude(Exists(reminded))
        .select_related("agent")
    )
    for package in due:
        label = f"{package.agent.slug} v{package.version}"
        (run.done if recertification_remind(actor=actor, package=package) else run.skipped).append(
            label
        )
    return run
