"""Reads of the release workflow that several apps' views and services share."""

from django.db.models import Q

from agents.models import Agent
from approvals.models import ApprovalPackage, PackageState


def last_approved(agent: Agent) -> ApprovalPackage | None:
    """Return the agent's most recently approved version, whatever became of it since."""
    return (
        ApprovalPackage.objects.filter(agent=agent, approved_at__isnull=False)
        .order_by("-version")
        .first()
    )


def package_in_force(agent: Agent) -> ApprovalPackage | None:
    """Return the agent's approved package, or None when none is approved now."""
    return agent.packages.filter(state=PackageState.APPROVED).first()


def kill_switch_webhook(agent: Agent) -> str | None:
    """Return the kill-switch webhook of the newest version ever allowed to ship.

    That version's runtime may be the one running: a version shipped on an emergency
    approval counts as much as an approved one.
    """
    shipped = (
        ApprovalPackage.objects.filter(agent=agent)
        .filter(Q(approved_at__isnull=False) | Q(emergency__granted_at__isnull=False))
        .order_by("-version")
        .values_list("manifest", flat=True)
        .first()
    )
    return shipped["kill_switch"].get("webhook") if shipped else None
