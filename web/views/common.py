"""What the page views share: the acting user, refusals, objects in the user's scope."""

from urllib.parse import urlencode, urlsplit

from django.contrib import messages
from django.http import QueryDict
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


# The session key of what a user typed in a form refused for a stale sign-in.
STEP_UP_KEPT_KEY = "countersign_step_up_kept"


def step_up_needed(request, next_url: str):
    """Return the way to the step-up page when the user's sign-in is too old for a
    consequential action (the service refuses it too); None when it is fresh enough.

    What the user posted waits in the session for the page `next_url` names, which
    gives it back in its form (step_up_kept, form_kept) to be submitted again. The
    forms behind a step-up ask for no secret, so nothing kept is one.
    """
    if actor_of(request).authentication.is_fresh():
        return None
    typed = {name: request.POST.getlist(name) for name in request.POST}
    typed.pop("csrfmiddlewaretoken", None)
    if typed:
        request.session[STEP_UP_KEPT_KEY] = {"page": urlsplit(next_url).path, "typed": typed}
    messages.warning(
        request,
        "Confirm it is you first: nothing was changed. What you typed comes back for you "
        "to check and send again.",
    )
    return redirect(f"{reverse('step-up')}?{urlencode({'next': next_url})}")


def step_up_kept(request) -> QueryDict | None:
    """Return, once, what the user typed on this page before a step-up; None if nothing."""
    kept = request.session.get(STEP_UP_KEPT_KEY)
    if kept is None or kept["page"] != request.path:
        return None
    del request.session[STEP_UP_KEPT_KEY]
    data = QueryDict(mutable=True)
    for name, values in kept["typed"].items():
        data.setlist(name, values)
    return data


def form_kept(form_class, kept: QueryDict | None, **kwargs):
    """Return an unbound form filled with the kept input's visible fields.

    Unbound, it shows no errors and submits nothing; its hidden fields (a verdict, a
    confirmation) are the page's own steps and start again.
    """
    if kept is None:
        return form_class(**kwargs)
    typed = form_class(kept, **kwargs)
    initial = {name: typed[name].data for name in typed.fields if not typed[name].is_hidden}
    return form_class(initial=initial, **kwargs)


def page_form(request, form_class, **kwargs):
    """Return a page's form: bound to what is posted, else holding what a step-up kept."""
    if request.method == "POST":
        return form_class(request.POST or None, **kwargs)
    return form_kept(form_class, step_up_kept(request), **kwargs)


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
    form = page_form(request, StopForm)
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
