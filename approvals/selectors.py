"""Reads of the release workflow that several apps' views and services share."""

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
