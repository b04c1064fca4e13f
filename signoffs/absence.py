"""Out-of-office: a reviewer's absence window and the delegate who decides in their place.

During the window the delegate decides the sign-offs assigned to the absent
reviewer (`signoffs.permissions.decision_standing`), every rule of who may
decide still applied to the delegate; never those of a package the absent
reviewer may not decide themselves (its creator, submitter or an owner of the
agent since its submission), so an owner who is the assigned reviewer does not
choose who reviews their package. A change locks its actor's row (and, setting one,
the absent reviewer's and the delegate's, in id order), then holds the absence's row
until it commits, and a decision locks the absences naming its decider delegate before
deciding (`delegations_lock`), so a delegate's decision and the end of their absence
commit one after the other; an absence set as its delegate leaves the reviewer group or
is deactivated commits before that change, or is refused.
Each change is audited in its own transaction:

- `absence.set`, target the absence, `before`/`after` {"delegate", "starts_at",
  "ends_at"}, data {"reviewer", "dimension", "delegate"};
- `absence.cleared`, target the absence, `before` as above, data {"reviewer",
  "dimension"}.
"""

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from agents.membership import actor_user_lock, users_lock
from audit.actors import Actor
from audit.services import audit_record
from config.errors import InvalidInput, NotFound, NotPermitted
from config.roles import Group
from signoffs.models import Absence, Dimension
from signoffs.permissions import reviewers_able

ABSENCE_SET = "absence.set"
ABSENCE_CLEARED = "absence.cleared"
# A window longer than this is a reassignment, not an absence.
MAX_ABSENCE = timedelta(days=366)


def _refuse(field: str, message: str, code: str = "invalid") -> InvalidInput:
    return InvalidInput(message, code=code, fields={field: [message]})


def can_manage_absence(user, reviewer) -> bool:
    """Tell whether the user may set or clear the reviewer's absence: their own, or staff."""
    return bool(
        user.is_authenticated and user.is_active and (user.is_staff or user.pk == reviewer.pk)
    )


def _window(starts_at: datetime, ends_at: datetime, now: datetime) -> None:
    if ends_at <= starts_at:
        raise _refuse("ends_at", "The absence must end after it starts.")
    if ends_at <= now:
        raise _refuse("ends_at", "The absence must end in the future.")
    if ends_at - starts_at > MAX_ABSENCE:
        raise _refuse(
            "ends_at", "An absence lasts at most a year; ask staff to reassign the reviews."
        )


def _check_people(reviewer, delegate, dimension: str) -> None:
    if dimension not in Dimension.values:
        raise _refuse("dimension", f"Choose one of {', '.join(Dimension.values)}.")
    if not reviewer.groups.filter(name=dimension).exists():
        raise _refuse(
            "dimension",
            f"{reviewer.get_username()} is not one of the {Group(dimension).label}.",
            "not_reviewer",
        )
    if delegate.pk == reviewer.pk:
        raise _refuse("delegate", "Choose someone else as your delegate.", "self_delegate")
    if not delegate.is_active:
        raise _refuse("delegate", f"{delegate.get_username()} is deactivated.", "inactive_user")
    if not delegate.groups.filter(name=dimension).exists():
        raise _refuse(
            "delegate",
            f"{delegate.get_username()} is not one of the {Group(dimension).label}; "
            "only they decide the dimension.",
            "not_reviewer",
        )


def _state(absence: Absence) -> dict:
    return {
        "delegate": absence.delegate.get_username(),
        "starts_at": absence.starts_at.isoformat(),
        "ends_at": absence.ends_at.isoformat(),
    }


@transaction.atomic
def absence_set(
    *,
    actor: Actor,
    reviewer,
    dimension: str,
    delegate,
    starts_at: datetime,
    ends_at: datetime,
) -> Absence:
    """Set the reviewer's absence window for a dimension and its delegate, replacing any earlier.

    The delegate must be an active member of the dimension's reviewer group;
    whether they may decide a given package is decided when they decide.
    """
    # The reviewer's row lock queues a second request for the same absence behind the
    # first, which then finds the absence and replaces it rather than inserting another;
    # the actor's and the delegate's, taken with it, hold their rights as the last change
    # left them: a delegate deactivated or out of the group meanwhile is refused.
    people = users_lock([reviewer, delegate], actor=actor)
    reviewer, delegate = people[reviewer.pk], people[delegate.pk]
    if actor.user is None or not can_manage_absence(people[actor.user.pk], reviewer):
        raise NotPermitted("Reviewers set their own absence; staff set anyone's.")
    _check_people(reviewer, delegate, dimension)
    _window(starts_at, ends_at, timezone.now())
    absence = (
        Absence.objects.select_for_update(no_key=True, of=("self",))
        .select_related("delegate")
        .filter(reviewer=reviewer, dimension=dimension)
        .first()
    )
    before = _state(absence) if absence else None
    if absence is None:
        absence = Absence.objects.create(
            reviewer=reviewer,
            dimension=dimension,
            delegate=delegate,
            starts_at=starts_at,
            ends_at=ends_at,
        )
    else:
        absence.delegate, absence.starts_at, absence.ends_at = delegate, starts_at, ends_at
        absence.save(update_fields=["delegate", "starts_at", "ends_at"])
    audit_record(
        actor=actor,
        action=ABSENCE_SET,
        target=absence,
        before=before,
        after=_state(absence),
        data={
            "reviewer": reviewer.get_username(),
            "dimension": dimension,
            "delegate": delegate.get_username(),
        },
    )
    return absence


@transaction.atomic
def absence_clear(*, actor: Actor, absence: Absence) -> None:
    """End the absence now: the delegate no longer decides for the reviewer."""
    # The actor's rights as the last change left them; their row before the absence's, as a
    # decision locks its decider's.
    user = actor_user_lock(actor=actor)
    # FOR UPDATE, not NO KEY: the row is deleted.
    absence = (
        Absence.objects.select_for_update(of=("self",))
        .select_related("reviewer", "delegate")
        .filter(pk=absence.pk)
        .first()
    )
    if absence is None:
        raise NotFound("No such absence.")
    if user is None or not can_manage_absence(user, absence.reviewer):
        raise NotPermitted("Reviewers clear their own absence; staff clear anyone's.")
    before = _state(absence)
    audit_record(
        actor=actor,
        action=ABSENCE_CLEARED,
        target=absence,
        before=before,
        data={"reviewer": absence.reviewer.get_username(), "dimension": absence.dimension},
    )
    absence.delete()


def delegations_lock(user, dimension: str) -> None:
    """Lock the absences of the dimension naming the user delegate, as the last change left them.

    Setting and clearing an absence hold its row until they commit. A decision takes
    these locks before it asks whether the user decides as a delegate, so an absence
    ended or handed to another delegate meanwhile refuses the decision, and one ended
    after the lock waits until the decision commits: a delegate's decision never lands
    after the end of the absence it rests on. Taken after the decider's row
    (`agents.membership.user_lock`) and before the first audit event; the services
    here lock the actor's and the reviewer's rows, then the absence row alone (never a
    user's row after it), so the order adds no deadlock.
    """
    absences = Absence.objects.select_for_update(no_key=True).filter(
        delegate=user, dimension=dimension
    )
    list(absences.order_by("pk").values_list("pk", flat=True))


def absences_visible(user) -> QuerySet:
    """Return the absences the user may see: staff all, others their own and those they cover."""
    absences = Absence.objects.select_related("reviewer", "delegate").order_by(
        "reviewer__username", "dimension"
    )
    if user.is_staff:
        return absences
    return absences.filter(Q(reviewer=user) | Q(delegate=user))


def absences_covered(user, now=None) -> QuerySet:
    """Return the absences in whose window the user decides for the absent reviewer now."""
    now = now or timezone.now()
    return Absence.objects.filter(delegate=user, starts_at__lte=now, ends_at__gt=now)


def absences_left_behind(now=None) -> QuerySet:
    """Return the absences not over whose delegate cannot decide: deactivated or out of the
    dimension's reviewer group since the absence was set.

    In such a window nobody decides in the absent reviewer's place.
    """
    able = reviewers_able(OuterRef("dimension")).filter(pk=OuterRef("delegate_id"))
    return (
        Absence.objects.filter(ends_at__gt=now or timezone.now())
        .filter(~Exists(able))
        .select_related("reviewer", "delegate")
        .order_by("starts_at", "pk")
    )
