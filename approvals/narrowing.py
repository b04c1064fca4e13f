"""Runtime usage against the approved scope, and "narrow to what was used".

Reviewers see, beside the checklist, what the agent used of each entry it
asks for; the owner may draft a version that keeps only what was used in the
last NARROW_WINDOW days: an entry not used is removed, an entry used only at a
lower access than approved keeps that lower access. That draft is an ordinary
new version: on submission the diff finds only narrowings and the sign-offs
carry over (``approvals.rereview``), as for any narrowing.
"""

import copy
from dataclasses import dataclass

from django.db import transaction

from agents.membership import actor_user_lock
from agents.models import Agent
from agents.permissions import can_edit
from agents.usage import NARROW_WINDOW, Usage, Use, usage_of
from approvals.manifest import KEY_BY_KIND
from approvals.models import ApprovalPackage
from approvals.selectors import package_in_force
from approvals.services import package_create
from audit.actors import Actor
from audit.services import audit_record
from config.errors import InvalidInput, InvalidTransition, NotPermitted


def package_usage(agent: Agent, package: ApprovalPackage | None) -> Usage:
    """Return the agent's usage per scope entry of `package` (none: every use is outside)."""
    entries = (
        list(
            package.entries.order_by("kind", "identifier").values_list(
                "kind", "identifier", "access"
            )
        )
        if package is not None
        else []
    )
    return usage_of(agent, entries)


@dataclass(frozen=True)
class Narrowing:
    """What narrowing to the usage does to each entry of the approved package."""

    removed: list[Use]  # not used in the window
    lowered: list[Use]  # used only below the approved access: kept at `highest_used`
    kept: list[Use]  # used at the approved access
    refusal: InvalidTransition | None  # why it cannot be drafted; None: it can


def narrowing_of(approved: ApprovalPackage, usage: Usage) -> Narrowing:
    """Return what narrowing the approved package to its `usage` removes, lowers and keeps,
    and why it is refused, if it is."""
    used = [use for use in usage.entries if use.used_recently]
    removed = usage.unused
    lowered = [use for use in used if use.highest_used != use.access]
    return Narrowing(
        removed=removed,
        lowered=lowered,
        kept=[use for use in used if use.highest_used == use.access],
        refusal=_refusal(approved, removed, lowered, len(usage.entries)),
    )


def _refusal(
    approved: ApprovalPackage, removed: list[Use], lowered: list[Use], entries: int
) -> InvalidTransition | None:
    """Return why the narrowing is refused: something must be removed or lowered, and
    something must be left."""
    if not removed and not lowered:
        return InvalidTransition(
            f"Every entry of v{approved.version} was used at its approved access in the last "
            f"{NARROW_WINDOW} days: there is nothing to remove or lower.",
            code="nothing_to_narrow",
        )
    if len(removed) == entries:
        return InvalidTransition(
            f"No entry of v{approved.version} was used in the last {NARROW_WINDOW} days: "
            "narrowing would leave an empty scope. Suspend or retire the agent instead.",
            code="empty_scope",
        )
    return None


def _narrowed(manifest: dict, narrowing: Narrowing) -> dict:
    """Return a copy of the manifest without the removed entries and with the lowered ones'
    access lowered."""
    removed = {(use.kind, use.identifier) for use in narrowing.removed}
    lowered = {(use.kind, use.identifier): use.highest_used for use in narrowing.lowered}
    doc = copy.deepcopy(manifest)
    for kind, key in KEY_BY_KIND.items():
        entries = []
        for entry in doc["scope"].get(key, []):
            if (kind, entry["id"]) in removed:
                continue
            entry["access"] = lowered.get((kind, entry["id"]), entry["access"])
            entries.append(entry)
        if key in doc["scope"]:
            doc["scope"][key] = entries
    return doc


@transaction.atomic
def package_narrow(*, actor: Actor, agent: Agent) -> ApprovalPackage:
    """Draft a version of the approved package that keeps only what was used lately.

    Every field but the scope stays as approved. Refused when nothing would be
    removed or lowered, or nothing would be left; the draft's own validation refuses a
    result the manifest schema does not accept.
    """
    agent = Agent.objects.select_for_update(no_key=True).get(pk=agent.pk)
    if actor.user is None or not can_edit(actor_user_lock(actor=actor), agent):
        raise NotPermitted(
            "Only the agent's owners and staff may narrow its scope.", code="not_owner"
        )
    approved = package_in_force(agent)
    if approved is None:
        raise InvalidTransition(
            "The agent has no approved package to narrow.", code="no_approved_package"
        )
    narrowing = narrowing_of(approved, package_usage(agent, approved))
    if narrowing.refusal is not None:
        raise narrowing.refusal
    try:
        package = package_create(
            actor=actor, agent=agent, manifest=_narrowed(approved.manifest, narrowing)
        )
    except InvalidInput as error:
        raise InvalidInput(
            f"The narrowed scope is not a valid package: {error.message}",
            code="invalid_narrowing",
            fields=error.fields,
        ) from error
    audit_record(
        actor=actor,
        action="package.narrowed",
        target=package,
        agent_slug=agent.slug,
        package_version=package.version,
        data={
            "from_version": approved.version,
            "window_days": NARROW_WINDOW,
            "removed": [{"kind": use.kind, "id": use.identifier} for use in narrowing.removed],
            "lowered": [
                {
                    "kind": use.kind,
                    "id": use.identifier,
                    "from": use.access,
                    "to": use.highest_used,
                }
                for use in narrowing.lowered
            ],
            "kept": len(narrowing.kept) + len(narrowing.lowered),
        },
    )
    return package
