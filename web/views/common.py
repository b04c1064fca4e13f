"""What the page views share: the acting user, refusals, objects in the user's scope."""

from urllib.parse import urlencode

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from agents.models import Agent
from approvals.models import ApprovalPackage
from audit.actors import Actor
from config.errors import ApplicationError, InvalidInput, NotPermitted
from web import selectors
from web.forms import StopForm, errors_show


def actor_of(request) -> Actor:
    return Actor.for_session(request)


def step_up_needed(request, next_url: str):
    """Return the way to the step-up page when the user's sign-in is too old for a
    consequential action (the service refuses it too); None when it is fresh enough."""
    if actor_of(request).authentication.is_fresh():
        return None
    messages.warning(request, "Confirm it is you first: nothing was changed.")
    return redirect(f"{reverse('step-up')}?{urlencode({'next': next_url})}")


def refused(request, error: ApplicationError, *, status: int | None = None):
    """Render a domain refusal as a page with the error's status."""
    return render(request, "refused.html", {"error": error}, status=status or error.status_code)


def agent_or_404(request, slug) -> Agent:
    """Return the agent of this slug if the user may see it; 404 otherwise."""
    return get_object_or_404(
        selectors.agents_visible(request.user).select_related("team"), slug=slug
    )


def package_or_404(request, slug, version) -> ApprovalPackage:
    """Return the package version of an agent the user may see; 404 otherwise."""
    return get_object_or_404(
        ApprovalPackage.objects.select_related("agent", "base", "created_by", "submitted_by"),
        agent__in=selectors.agents_visible(request.user),
        agent__slug=slug,
        version=version,
    )


def evidence_links(package) -> list[tuple[str, str]]:
    """Return the evidence downloads of a package."""
    kwargs = {"slug": package.agent.slug, "version": package.version}
    return [("Evidence bundle (ZIP)", reverse("api-package-evidence", kwargs=kwargs))]


def audit_export_links() -> list[tuple[str, str]]:
    """Return the audit trail's downloads."""
    return [
        ("Export CSV", reverse("audit-export-csv")),
        ("Export JSON Lines", reverse("audit-export-jsonl")),
    ]


def agent_stop(request, agent: Agent, *, check, stop, stopped: bool, template: str, done: str):
    """Suspend or retire an agent in two steps, a reason and then its confirmation.

    `check` is whether the user may, `stop(actor=, agent=, reason=)` the service,
    `stopped` whether the agent already is, `done` the message once it is done.
    The step needs a fresh sign-in.
    """
    if not check:
        return refused(request, NotPermitted(check.message, code=check.code), status=403)
    if request.method == "POST":
        again = step_up_needed(request, request.path)
        if again is not None:
            return again
    form = StopForm(request.POST or None)
    confirming = False
    if request.method == "POST" and form.is_valid():
        if request.POST.get("step") != "confirm":
            confirming = True
        else:
            try:
                stop(actor=actor_of(request), agent=agent, reason=form.cleaned_data["reason"])
            except InvalidInput as error:
                errors_show(error, form)
            except ApplicationError as error:
                return refused(request, error)
            else:
                messages.warning(request, done)
                return redirect(agent)
    context = {"agent": agent, "form": form, "confirming": confirming, "stopped": stopped}
    return render(request, template, context)
