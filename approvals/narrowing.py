"""Runtime usage against the approved scope, and "narrow to what was used".

Reviewers see, beside the checklist, what the agent used of each entry it
asks for; the owner may draft a version that keeps only the entries used in
the last NARROW_WINDOW days. That draft is an ordinary new version: on
submission the diff finds only narrowings and the sign-offs carry over
(``approvals.rereview``), as for any narrowing.
"""

import copy

from django.db import transaction

from agents.models import Agent
from agents.permissions import can_edit
from agents.usage import NARROW_WINDOW, Usage, usage_of
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


def narrowing_refusal(approved: ApprovalPackage, usage: Usage) -> InvalidTransition | None:
    """Return why the approved package cannot be narrowed by its usage, or None if it can:
    something must be removed, and something must be left."""
    unused = usage.unused
    if not unused:
        return InvalidTransition(
            f"Every entry of v{approved.version} was used in the last {NARROW_WINDOW} days: "
            "there is nothing to remove.",
            code="nothing_to_narrow",
        )
    if len(unused) == len(usage.entries):
        return InvalidTransition(
            f"No entry of v{approved.version} was used in the last {NARROW_WINDOW} days: "
            "narrowing would leave an empty scope. Suspend or retire the agent instead.",
            code="empty_scope",
        )
    return None


def _kept(manifest: dict, removed: set[tuple[str, str]]) -> dict:
    """Return a copy of the manifest without the removed (kind, identifier) entries."""
    doc = copy.deepcopy(manifest)
    for kind, identifier in removed:
        key = KEY_BY_KIND[kind]
        doc["scope"][key] = [e for e in doc["scope"][key] if e["id"] != identifier]
    return doc


@transaction.atomic
def package_narrow(*, actor: Actor, agent: Agent) -> ApprovalPackage:
    """Draft a version of the approved package that keeps only the entries used lately.

    Every field but the scope stays as approved. Refused when nothing would be
    removed or nothing would be left; the draft's own validation refuses a
    result the manifest schema does not accept.
    """
    agent = Agent.objects.select_for_update().get(pk=agent.pk)
    if actor.user is None or not can_edit(actor.user, agent):
        raise NotPermitted(
            "Only the agent's owners and staff may narrow its scope.", code="not_owner"
        )
    approved = package_in_force(agent)
    if approved is None:
        raise InvalidTransition(
            "The agent has no approved package to narrow.", code="no_approved_package"
        )
    usage = package_usage(agent, approved)
    refusal = narrowing_refusal(approved, usage)
    if refusal is not None:
        raise refusal
    removed = {(use.kind, use.identifier) for use in usage.unused}
    try:
        package = package_create(
            actor=actor, agent=agent, manifest=_kept(approved.manifest, removed)
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
            "removed": [{"kind": k, "id": i} for k, i in sorted(removed)],
            "kept": len(usage.entries) - len(usage.unused),
        },
    )
    return package
