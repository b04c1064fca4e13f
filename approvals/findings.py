"""What a security reviewer does with a drift finding: acknowledge it, resolve it.

Drift runs (`approvals.drift`) open and resolve findings on their own; these are
the people's side, each a state change with its audit event in one transaction.
"""

from django.db import transaction

from agents.membership import actor_user_lock
from agents.models import Agent
from agents.permissions import ALLOWED, Check
from approvals.models import FINDING_TEXT_MAX_LENGTH, DriftFinding, FindingStatus
from audit.actors import Actor
from audit.services import audit_record
from config.errors import InvalidInput, InvalidTransition, NotPermitted
from config.roles import Group
from signoffs.permissions import author_refusal, owner_refusal

# Why an author or owner leaves a finding to someone else, by `author_refusal`'s code.
_AUTHOR_REFUSALS = {
    "self_review": "You created or submitted the package this finding is filed under; another "
    "security reviewer handles it.",
    "owner_review": "You own this agent, or owned it since the package this finding is filed "
    "under was submitted; another security reviewer handles it.",
}


def can_handle_finding(user, finding: DriftFinding) -> Check:
    """Return whether the user may acknowledge or resolve the drift finding, and if not, why.

    Security reviewers and staff handle findings; never the agent's owners nor,
    of the package the finding is filed under, its creator, its submitter or
    whoever owned the agent since its submission: resolving a critical finding
    lets the gate allow the agent again, and the people a package's sign-off
    refuses do not stand in for its reviewers (`signoffs.permissions.author_refusal`).
    """
    refusal = _role_refusal(user)
    return refusal if refusal is not None else _author_check(user, finding)


def _role_refusal(user) -> Check | None:
    """Refuse whoever is neither a security reviewer nor staff."""
    if user is None or not user.is_authenticated or not user.is_active:
        return Check(False, "not_authenticated", "Sign in first.")
    if not (user.is_staff or user.groups.filter(name=Group.SECURITY).exists()):
        return Check(
            False, "not_security", "Only security reviewers and staff handle drift findings."
        )
    return None


def _author_check(user, finding: DriftFinding) -> Check:
    refusal = (
        author_refusal(user, finding.package)
        if finding.package_id is not None
        else owner_refusal(user, finding.agent)
    )
    if refusal is not None:
        return Check(False, refusal.code, _AUTHOR_REFUSALS[refusal.code])
    return ALLOWED


def findings_handleable(user, findings) -> set[int]:
    """Return the ids of the live findings the user may handle, by `can_handle_finding`.

    The role is asked once; findings filed under one package share the rest of the
    answer, so it is asked once per package: for a security reviewer the queries
    grow with the packages, not with the findings, and for anyone else not at all.
    """
    if _role_refusal(user) is not None:
        return set()
    answers: dict[int | None, bool] = {}
    handleable = set()
    for finding in findings:
        if not finding.is_live:
            continue
        if finding.package_id not in answers:
            answers[finding.package_id] = bool(_author_check(user, finding))
        if answers[finding.package_id]:
            handleable.add(finding.pk)
    return handleable


def _text_checked(field_name: str, text: str, *, required: bool) -> str:
    """Return the note or resolution stripped, or raise InvalidInput naming the field."""
    text = (text or "").strip()
    if required and not text:
        problem = "Say how it was resolved."
    elif len(text) > FINDING_TEXT_MAX_LENGTH:
        problem = f"At most {FINDING_TEXT_MAX_LENGTH} characters."
    else:
        return text
    raise InvalidInput(problem, fields={field_name: [problem]})


def _finding_locked(actor: Actor, finding: DriftFinding) -> DriftFinding:
    """Return the finding re-read under a row lock, once the actor may handle it.

    The agent's row is locked first and the actor's last (`approvals.locks`), so an
    owner change or a change of the actor's groups waits for the check or the check
    for it.
    """
    agent = Agent.objects.select_for_update(no_key=True).get(pk=finding.agent_id)
    finding = (
        DriftFinding.objects.select_for_update(no_key=True, of=("self",))
        .select_related("package")
        .get(pk=finding.pk)
    )
    finding.agent = agent
    if finding.package is not None:
        finding.package.agent = agent
    if not actor.is_system:
        user = actor_user_lock(actor=actor) if actor.user is not None else None
        check = can_handle_finding(user, finding)
        if not check:
            raise NotPermitted(check.message, code=check.code)
    return finding


def _finding_moved(
    actor: Actor, finding: DriftFinding, action: str, status: str, resolution: str, data: dict
) -> DriftFinding:
    """Save the finding's new status and text, and audit the change as `action`."""
    before = finding.status
    finding.status, finding.resolution = status, resolution
    finding.save(update_fields=["status", "resolution"])
    audit_record(
        actor=actor,
        action=action,
        target=finding,
        agent_slug=finding.agent.slug,
        before={"status": before},
        after={"status": status},
        data={**data, "severity": finding.severity},
    )
    return finding


@transaction.atomic
def finding_acknowledge(*, actor: Actor, finding: DriftFinding, note: str = "") -> DriftFinding:
    """Mark an open finding as seen by a person; it stays live (and a critical one still denies)."""
    note = _text_checked("note", note, required=False)
    finding = _finding_locked(actor, finding)
    if finding.status != FindingStatus.OPEN:
        raise InvalidTransition(
            f"The finding is {finding.get_status_display().lower()}, not open.",
            code="finding_not_open",
        )
    return _finding_moved(
        actor,
        finding,
        "drift.acknowledged",
        FindingStatus.ACKNOWLEDGED,
        note or finding.resolution,
        {"note": note},
    )


@transaction.atomic
def finding_resolve(*, actor: Actor, finding: DriftFinding, resolution: str) -> DriftFinding:
    """Close a live finding with a reason; the same use seen again later opens a new one."""
    resolution = _text_checked("resolution", resolution, required=True)
    finding = _finding_locked(actor, finding)
    if not finding.is_live:
        raise InvalidTransition("The finding is already resolved.", code="finding_resolved")
    return _finding_moved(
        actor,
        finding,
        "drift.resolved",
        FindingStatus.RESOLVED,
        resolution,
        {"resolution": resolution},
    )
