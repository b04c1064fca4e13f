"""Drive the emergency services to put a package under a granted emergency approval."""

from approvals.emergency import emergency_approve, emergency_request
from audit.actors import Actor


def emergency_grant(workflow, package, reason="Fix for incident 42 must ship tonight."):
    """Request an emergency approval of the package as its owner; security1 and pam1 approve."""
    emergency = emergency_request(
        actor=Actor.for_user(workflow.owner), package=package, reason=reason
    )
    for dimension in ("security", "pam"):
        emergency = emergency_approve(
            actor=Actor.for_user(workflow.reviewers[dimension][0]),
            package=emergency.package,
            dimension=dimension,
        )
    return emergency
