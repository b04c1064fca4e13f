"""Emergency release and retirement pages: ask, approve, retire; the services decide."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from agents.permissions import can_edit, can_retire
from approvals.emergency import emergency_approve, emergency_hours, emergency_request
from approvals.models import (
    EMERGENCY_DIMENSIONS,
    EmergencyApproval,
    EmergencyState,
    PackageState,
)
from approvals.retirement import agent_retire
from config.errors import ApplicationError, InvalidInput, NotPermitted
from signoffs.permissions import can_approve_emergency
from web import forms as web_forms
from web.forms.emergency import EmergencyRequestForm
from web.views.common import (
    actor_of,
    agent_or_404,
    agent_stop,
    package_or_404,
    refused,
    step_up_needed,
)

# The badge each emergency state wears: the colours the pages give the matching package states.
EMERGENCY_BADGES = {
    EmergencyState.REQUESTED: "pending",
    EmergencyState.ACTIVE: "changes_requested",
    EmergencyState.CONCLUDED: "approved",
    EmergencyState.EXPIRED: "rejected",
    EmergencyState.ENDED: "rejected",
}


def emergency_context(user, package) -> dict:
    """Return what the package page shows of its emergency approval, and what the user may do."""
    emergency = (
        EmergencyApproval.objects.select_related(
            "requested_by", "security_approver", "pam_approver"
        )
        .filter(package=package)
        .first()
    )
    may_ask = (
        emergency is None
        and package.state in (PackageState.DRAFT, PackageState.IN_REVIEW)
        and not package.agent.is_retired
        and not package.agent.is_suspended
        and bool(can_edit(user, package.agent))
    )
    approvable = []
    if emergency is not None and emergency.state == EmergencyState.REQUESTED:
        emergency.package = package
        approvable = [d for d in EMERGENCY_DIMENSIONS if can_approve_emergency(user, emergency, d)]
    return {
        "emergency": emergency,
        "emergency_badge": EMERGENCY_BADGES[emergency.state_shown] if emergency else "",
        "may_ask_emergency": may_ask,
        "emergency_approvable": approvable,
        "emergency_hours": emergency_hours(),
    }


@login_required
def package_emergency(request, slug, version):
    """Ask for an emergency approval of a draft or a package in review, with a reason."""
    package = package_or_404(request, slug, version)
    if not can_edit(request.user, package.agent):
        return refused(
            request,
            NotPermitted("Only the agent's owners and staff ask for an emergency approval."),
            status=403,
        )
    form = EmergencyRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            emergency_request(
                actor=actor_of(request), package=package, reason=form.cleaned_data["reason"]
            )
        except InvalidInput as error:
            web_forms.errors_show(error, form)
        except ApplicationError as error:
            return refused(request, error)
        else:
            messages.success(
                request,
                f"Emergency approval of v{package.version} asked for: one security and one PAM "
                "reviewer must approve it. Its full review is open.",
            )
            return redirect(package)
    context = {
        "package": package,
        "agent": package.agent,
        "form": form,
        "hours": emergency_hours(),
        "is_draft": package.state == PackageState.DRAFT,
    }
    return render(request, "packages/emergency.html", context, status=400 if form.errors else 200)


@login_required
@require_POST
def package_emergency_approve(request, slug, version, dimension):
    """Give the signed-in reviewer's security or PAM approval of the emergency."""
    if dimension not in EMERGENCY_DIMENSIONS:
        raise Http404("No such dimension.")
    package = package_or_404(request, slug, version)
    again = step_up_needed(request, f"{package.get_absolute_url()}#emergency")
    if again is not None:
        return again
    try:
        emergency = emergency_approve(actor=actor_of(request), package=package, dimension=dimension)
    except ApplicationError as error:
        return refused(request, error)
    if emergency.ends_at is not None:
        messages.success(
            request,
            f"Emergency approval granted: v{package.version} may ship until "
            f"{emergency.ends_at:%Y-%m-%d %H:%M} UTC.",
        )
    else:
        messages.success(request, "Your approval is recorded; the other one is still needed.")
    return redirect(f"{package.get_absolute_url()}#emergency")


@login_required
def agent_retire_view(request, slug):
    """Retire an agent in two steps: give a reason, then confirm it."""
    agent = agent_or_404(request, slug)
    return agent_stop(
        request,
        agent,
        check=can_retire(request.user, agent),
        stop=agent_retire,
        stopped=agent.is_retired,
        template="agents/retire.html",
        done=f"{agent.slug} is retired: every gate check denies.",
    )
