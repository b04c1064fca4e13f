"""Runtime usage on the pages, and "narrow to what was used" with its confirmation."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from agents.models import Agent
from agents.permissions import can_edit
from agents.usage import NARROW_WINDOW
from approvals.models import ApprovalPackage
from approvals.narrowing import (
    narrowing_of,
    package_narrow,
    package_usage,
)
from approvals.selectors import package_in_force
from config.errors import ApplicationError, NotPermitted
from web.views.common import actor_of, agent_or_404, refused


def usage_context(
    user, agent: Agent, package: ApprovalPackage | None, in_force: ApprovalPackage | None
) -> dict:
    """Return the usage section's context: usage per entry of `package`, and whether the
    user is offered a narrowing of the approved package (`in_force`)."""
    usage = package_usage(agent, package)
    narrowing = None
    if in_force is not None:
        narrowable = usage if in_force == package else package_usage(agent, in_force)
        narrowing = narrowing_of(in_force, narrowable)
    return {
        "usage": usage,
        "usage_version": package.version if package is not None else None,
        "narrowing": narrowing,
        "may_narrow": narrowing is not None
        and narrowing.refusal is None
        and not agent.is_retired
        and bool(can_edit(user, agent)),
    }


@login_required
def agent_narrow(request, slug):
    """Show what a narrowing removes and keeps; on a confirmed POST, draft it."""
    agent = agent_or_404(request, slug)
    if not can_edit(request.user, agent):
        return refused(
            request,
            NotPermitted(
                "Only the agent's owners and staff may narrow its scope.", code="not_owner"
            ),
            status=403,
        )
    approved = package_in_force(agent)
    if request.method == "POST":
        try:
            package = package_narrow(actor=actor_of(request), agent=agent)
        except ApplicationError as error:
            return refused(request, error)
        messages.success(
            request,
            f"Draft v{package.version} keeps only what was used lately. Submit it: "
            "a narrowing carries the sign-offs over.",
        )
        return redirect(package)
    context = {"agent": agent, "approved": approved, "window": NARROW_WINDOW}
    if approved is not None:
        context["narrowing"] = narrowing_of(approved, package_usage(agent, approved))
    return render(request, "agents/narrow.html", context)
